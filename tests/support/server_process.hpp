#pragma once
// Starts openmarket-server as a child process for integration tests: a fresh database (migrated), an
// exclusive Redis database (flushed), a free port; waits until /readyz answers 200.
#include <chrono>
#include <string>
#include <vector>

#include <sys/types.h>

namespace om::test {

int free_port();

struct ServerOptions {
    int shards = 2;
    std::vector<std::string> extra_args;   // e.g. {"--body-limit", "4096"}
    std::string database_url;              // empty: a fresh database
    std::string redis_url;                 // empty: the process's exclusive Redis db, flushed
    bool wait_ready = true;
    int port = 0;                          // 0: a free port
    long max_open_files = 0;               // >0: RLIMIT_NOFILE of the server process
};

class ServerProcess {
public:
    explicit ServerProcess(ServerOptions options = {});
    ~ServerProcess();  // SIGKILL if still running
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    void start();
    // SIGTERM and wait; returns the exit status (or -1 on timeout, then SIGKILL).
    int stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
    void kill9();
    [[nodiscard]] bool running();
    // Waits for the exit and returns the status; -1 on timeout.
    int wait_exit(std::chrono::milliseconds timeout);
    void signal(int sig);

    [[nodiscard]] int port() const noexcept { return port_; }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    [[nodiscard]] const std::string& database_url() const noexcept { return db_url_; }
    [[nodiscard]] const std::string& redis_url() const noexcept { return redis_url_; }
    [[nodiscard]] std::string log() const;  // the server's stderr so far
    // Waits until GET /readyz returns `status` (200 or 503); false on timeout.
    bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(20), int status = 200);

private:
    ServerOptions options_;
    int port_ = 0;
    pid_t pid_ = -1;
    std::string db_url_;
    std::string redis_url_;
    std::string log_path_;
};

// Runs `openmarket-server migrate --database-url URL`; returns its exit status and output.
int run_migrate(const std::string& database_url, std::string* output = nullptr);
// Runs a shell command; returns the exit status.
int sh(const std::string& command);
// Executes SQL on a database (blocking libpq) and returns the first column of the first row ("" if none).
std::string sql_value(const std::string& database_url, const std::string& sql);

}  // namespace om::test
