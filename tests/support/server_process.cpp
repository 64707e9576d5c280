#include "support/server_process.hpp"

#include <libpq-fe.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <csignal>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/http_client.hpp"
#include "support/test_env.hpp"

namespace om::test {

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        throw std::runtime_error("free_port: bind failed");
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

int sh(const std::string& command) {
    const int rc = std::system(command.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int run_migrate(const std::string& database_url, std::string* output) {
    const std::string cmd = std::string(OM_SERVER_BINARY) + " migrate --database-url '" + database_url + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) {
        return -1;
    }
    std::string out;
    std::array<char, 512> buf{};
    while (auto n = std::fread(buf.data(), 1, buf.size(), p)) {
        out.append(buf.data(), n);
    }
    const int rc = ::pclose(p);
    if (output) {
        *output = out;
    }
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string sql_value(const std::string& database_url, const std::string& sql) {
    PGconn* c = PQconnectdb(database_url.c_str());
    if (PQstatus(c) != CONNECTION_OK) {
        std::string msg = PQerrorMessage(c);
        PQfinish(c);
        throw std::runtime_error("sql_value: " + msg);
    }
    PGresult* r = PQexec(c, sql.c_str());
    std::string out;
    const auto st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        std::string msg = PQerrorMessage(c);
        PQclear(r);
        PQfinish(c);
        throw std::runtime_error("sql_value: " + sql + ": " + msg);
    }
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        out = PQgetvalue(r, 0, 0);
    }
    PQclear(r);
    PQfinish(c);
    return out;
}

ServerProcess::ServerProcess(ServerOptions options) : options_(std::move(options)) {
    db_url_ = options_.database_url.empty() ? fresh_database() : options_.database_url;
    if (options_.redis_url.empty()) {
        redis_url_ = redis_url_for_test();
        sh("redis-cli -p " + env("OM_TEST_REDIS_PORT") + " -n " + std::to_string(exclusive_redis_db()) +
           " FLUSHDB > /dev/null");
    } else {
        redis_url_ = options_.redis_url;
    }
    std::string out;
    if (run_migrate(db_url_, &out) != 0) {
        throw std::runtime_error("migrate failed: " + out);
    }
    port_ = options_.port ? options_.port : free_port();
    static int instance = 0;
    log_path_ = env("OM_TEST_STATE_DIR") + "/server-" + std::to_string(::getpid()) + "-" + std::to_string(port_) + "-" +
                std::to_string(++instance) + ".log";
    start();
}

ServerProcess::~ServerProcess() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
}

void ServerProcess::start() {
    std::vector<std::string> args{OM_SERVER_BINARY,
                                  "--listen", "127.0.0.1:" + std::to_string(port_),
                                  "--shards", std::to_string(options_.shards),
                                  "--database-url", db_url_,
                                  "--redis-url", redis_url_,
                                  "--cpu-threads", "2"};
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    pid_ = ::fork();
    if (pid_ < 0) {
        throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
        if (options_.max_open_files > 0) {
            rlimit rl{static_cast<rlim_t>(options_.max_open_files), static_cast<rlim_t>(options_.max_open_files)};
            ::setrlimit(RLIMIT_NOFILE, &rl);
        }
        const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            ::dup2(fd, STDOUT_FILENO);
            ::dup2(fd, STDERR_FILENO);
            ::close(fd);
        }
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    if (options_.wait_ready && !wait_ready()) {
        throw std::runtime_error("server did not become ready; log:\n" + log());
    }
}

bool ServerProcess::wait_ready(std::chrono::milliseconds timeout, int status) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!running()) {
            return false;
        }
        try {
            HttpClient c(port_);
            c.set_timeout(std::chrono::milliseconds(1000));
            if (c.get("/readyz").status == status) {
                return true;
            }
        } catch (const std::exception&) {
            // not listening yet
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

bool ServerProcess::running() {
    if (pid_ <= 0) {
        return false;
    }
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

int ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        if (std::chrono::steady_clock::now() > deadline) {
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
}

void ServerProcess::signal(int sig) {
    if (pid_ > 0) {
        ::kill(pid_, sig);
    }
}

int ServerProcess::stop(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) {
        return -1;
    }
    ::kill(pid_, SIGTERM);
    const int rc = wait_exit(timeout);
    if (rc == -1 && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    return rc;
}

void ServerProcess::kill9() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
}

std::string ServerProcess::log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace om::test
