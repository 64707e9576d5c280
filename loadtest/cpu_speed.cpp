// openmarket-load cpu-speed: how fast each CPU runs two fixed pieces of work, sampled over a run.
//
// On a virtual machine the host may give a virtual CPU less than a whole physical core for a while (another
// guest on the same core or its hyperthread sibling). Nothing inside the guest shows it: the guest still sees
// its CPU busy or idle, but instructions take longer, and a run at a fixed rate uses more of the machine and
// queues. This samples it: every interval, a thread pinned to each CPU in turn runs two fixed loops and reads
// its own CPU clock around each. A thread's CPU time counts only while it runs, so the guest's own load (the
// server, PostgreSQL, ...) does not lengthen a sample; a slower core does.
//
// Two loops because the host does not slow everything alike: on the development VM a chain of multiplies in
// registers ("alu") kept its speed while a loop that stores a value and loads it back at once ("store_load",
// as spilled variables and much C++ and PostgreSQL code do) ran at a third of its speed for minutes at a time.
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "load.hpp"

namespace om::load {

namespace {

double thread_cpu_ms() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

// A chain of dependent multiply-adds in registers: neither vectorised nor shortened by the compiler, no memory
// traffic. About 1.2 ms here.
double alu_sample() {
    volatile std::uint64_t sink = 0;
    std::uint64_t x = sink + 88172645463325252ULL;
    const double begin = thread_cpu_ms();
    for (std::uint64_t i = 0; i < 1'000'000; ++i) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    }
    const double end = thread_cpu_ms();
    sink = x;
    return end - begin;
}

// A value stored and loaded back on every step (volatile: the compiler keeps both), nothing else: each step
// waits for the store before it. About 0.6 ms here when the core is the VM's alone, 1.7-1.9 ms when not.
double store_load_sample() {
    volatile std::uint64_t v = 0;
    const double begin = thread_cpu_ms();
    for (std::uint64_t i = 0; i < 2'000'000; ++i) {
        v = v + 1;
    }
    return thread_cpu_ms() - begin;
}

struct Kernel {
    const char* name;
    double (*sample)();
};
constexpr Kernel kKernels[] = {{"alu", alu_sample}, {"store_load", store_load_sample}};
constexpr std::size_t kKernelCount = sizeof kKernels / sizeof kKernels[0];

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
    // samples[cpu][kernel]
    std::vector<std::vector<std::vector<double>>> samples(cpus.size(), std::vector<std::vector<double>>(kKernelCount));
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(o.duration_s));
    auto next = start;
    while (next < end) {
        for (std::size_t i = 0; i < cpus.size(); ++i) {
            if (pin(cpus[i])) {
                for (std::size_t k = 0; k < kKernelCount; ++k) {
                    samples[i][k].push_back(kKernels[k].sample());
                }
            }
        }
        next += std::chrono::milliseconds(o.interval_ms);
        std::this_thread::sleep_until(std::min(next, end));
    }
    sched_setaffinity(0, sizeof allowed, &allowed);

    nlohmann::json report = {{"interval_ms", o.interval_ms}, {"duration_s", o.duration_s}};
    std::vector<double> fastest(kKernelCount, 0);
    for (std::size_t k = 0; k < kKernelCount; ++k) {
        for (const auto& per_cpu : samples) {
            for (double v : per_cpu[k]) {
                fastest[k] = fastest[k] == 0 ? v : std::min(fastest[k], v);
            }
        }
        report["fastest_ms"][kKernels[k].name] = fastest[k];
    }
    std::printf("cpu-speed: CPU time of two fixed loops on each CPU, every %d ms for %.0f s (the fastest: the "
                "fastest sample of any CPU)\n",
                o.interval_ms, o.duration_s);
    nlohmann::json per_cpu = nlohmann::json::array();
    for (std::size_t i = 0; i < cpus.size(); ++i) {
        nlohmann::json entry = {{"cpu", cpus[i]}};
        std::string line = "  cpu" + std::to_string(cpus[i]) + ":";
        for (std::size_t k = 0; k < kKernelCount; ++k) {
            const auto& s = samples[i][k];
            if (s.empty()) {
                line += std::string(" ") + kKernels[k].name + " no sample;";
                continue;
            }
            const double median = quantile(s, 0.5);
            const double slowest = *std::max_element(s.begin(), s.end());
            const auto slow = std::count_if(s.begin(), s.end(), [&](double v) { return v > 1.5 * fastest[k]; });
            const double slow_share = static_cast<double>(slow) / static_cast<double>(s.size());
            char buf[160];
            std::snprintf(buf, sizeof buf, " %s median %.3f ms (fastest %.3f), %.0f %% of samples slower than 1.5x;",
                          kKernels[k].name, median, fastest[k], 100.0 * slow_share);
            line += buf;
            entry[kKernels[k].name] = {{"median_ms", median}, {"slowest_ms", slowest}, {"slow_share", slow_share},
                                       {"samples_ms", s}};
        }
        line.pop_back();
        std::printf("%s (%zu samples)\n", line.c_str(), samples[i][0].size());
        per_cpu.push_back(std::move(entry));
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
