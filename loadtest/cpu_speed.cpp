// openmarket-load cpu-speed: how fast each CPU runs a fixed piece of work, sampled over a run.
//
// On a virtual machine the host may give a virtual CPU less than a whole physical core for a while (another
// guest on the same core or its hyperthread sibling). Nothing inside the guest shows it: the guest still sees
// its CPU busy or idle, but every instruction takes longer, and a run at a fixed rate uses more of the machine
// and queues. This samples it: every interval, a thread pinned to each CPU in turn runs a fixed loop and reads
// its own CPU clock around it. A thread's CPU time counts only while it runs, so the guest's own load (the
// server, PostgreSQL, ...) does not lengthen a sample; a slower core does.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "load.hpp"

namespace om::load {

namespace {

// A chain of dependent multiply-adds: neither vectorised nor shortened by the compiler, and no memory traffic,
// so that its time is the core's speed and not the caches'. About 1.3 ms at 3 GHz.
constexpr std::uint64_t kWorkSteps = 1'000'000;

double thread_cpu_ms() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double one_sample() {
    volatile std::uint64_t sink = 0;
    std::uint64_t x = sink + 88172645463325252ULL;
    const double begin = thread_cpu_ms();
    for (std::uint64_t i = 0; i < kWorkSteps; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    }
    const double end = thread_cpu_ms();
    sink = x;
    return end - begin;
}

bool pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        return false;
    }
    sched_yield();  // the move takes effect at the next scheduling point
    return sched_getcpu() == cpu;
}

double quantile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace

int run_cpu_speed(const CpuSpeedOptions& o) {
    if (o.duration_s <= 0 || o.interval_ms < 10) {
        std::fprintf(stderr, "cpu-speed: --duration must be > 0 and --interval-ms >= 10\n");
        return 2;
    }
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
        std::fprintf(stderr, "cpu-speed: sched_getaffinity failed\n");
        return 2;
    }
    std::vector<int> cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &allowed)) {
            cpus.push_back(c);
        }
    }
    std::vector<std::vector<double>> samples(cpus.size());
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(o.duration_s));
    auto next = start;
    while (next < end) {
        for (std::size_t i = 0; i < cpus.size(); ++i) {
            if (pin(cpus[i])) {
                samples[i].push_back(one_sample());
            }
        }
        next += std::chrono::milliseconds(o.interval_ms);
        std::this_thread::sleep_until(std::min(next, end));
    }
    sched_setaffinity(0, sizeof allowed, &allowed);

    double fastest = 0;
    for (const auto& s : samples) {
        for (double v : s) {
            fastest = fastest == 0 ? v : std::min(fastest, v);
        }
    }
    nlohmann::json report = {{"interval_ms", o.interval_ms}, {"duration_s", o.duration_s},
                             {"work_steps", kWorkSteps}, {"fastest_ms", fastest}};
    nlohmann::json per_cpu = nlohmann::json::array();
    std::printf("cpu-speed: CPU time of a fixed loop, every %d ms for %.0f s (fastest sample %.3f ms)\n",
                o.interval_ms, o.duration_s, fastest);
    for (std::size_t i = 0; i < cpus.size(); ++i) {
        const auto& s = samples[i];
        if (s.empty()) {
            std::printf("  cpu%d: no sample (could not run there)\n", cpus[i]);
            continue;
        }
        const double median = quantile(s, 0.5);
        const auto slow = std::count_if(s.begin(), s.end(), [&](double v) { return v > 1.5 * fastest; });
        const double slow_share = static_cast<double>(slow) / static_cast<double>(s.size());
        std::printf("  cpu%d: %zu samples, median %.3f ms (%.0f %% of the fastest speed), slowest %.3f ms, "
                    "%.0f %% of samples slower than 1.5x the fastest\n",
                    cpus[i], s.size(), median, 100.0 * fastest / median, *std::max_element(s.begin(), s.end()),
                    100.0 * slow_share);
        per_cpu.push_back({{"cpu", cpus[i]}, {"median_ms", median}, {"slowest_ms", *std::max_element(s.begin(), s.end())},
                           {"slow_share", slow_share}, {"samples_ms", s}});
    }
    report["cpus"] = per_cpu;
    if (!o.json.empty()) {
        std::ofstream out(o.json);
        out << report.dump() << "\n";
        if (!out) {
            std::fprintf(stderr, "cpu-speed: cannot write %s\n", o.json.c_str());
            return 2;
        }
    }
    return 0;
}

}  // namespace om::load
