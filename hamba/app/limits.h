// What the operating system lets this process use, and the defaults hamba derives from it:
// the number of CPUs (the default thread count) and the file-descriptor limit (the default
// global maxconn).
//
//     int threads = app::usable_cpus();          // 2 in a container started with --cpus 1.5
//     app::FdLimit fds = app::raise_fd_limit();   // soft limit raised to the hard one
//     int maxconn = app::maxconn_for_fds(fds.now);
//
// The pure functions take the files' contents as arguments, so tests can give them any
// machine's; the others read /proc and /sys.
#pragma once

#include "engine/engine.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hamba::app {

// --- CPUs ---

// The cgroup v2 path of this process from /proc/self/cgroup's contents ("0::/a/b\n" -> "/a/b"),
// or nullopt when there is no v2 line (cgroup v1 only, or not Linux).
std::optional<std::string> cgroup_v2_path(std::string_view proc_self_cgroup);

// The CPUs a cgroup v2 cpu.max allows ("150000 100000" -> 2: a quota of 1.5 CPUs needs two
// threads to be used), or nullopt when it sets no quota ("max 100000") or cannot be read.
std::optional<int> cpu_max_cpus(std::string_view cpu_max);

// The threads worth running: the CPUs the affinity mask allows, lowered to the tightest quota
// (the cgroup and each of its parents may set one), never less than 1.
int usable_cpus(int affinity_cpus, std::optional<int> quota_cpus);

// usable_cpus() for this process: sched_getaffinity, and cpu.max of its cgroup and parents.
int usable_cpus();

// --- file descriptors ---

struct FdLimit {
  uint64_t before = 0; // the soft limit hamba started with
  uint64_t now = 0;    // after raising it to the hard limit
};

// Raises the soft RLIMIT_NOFILE to the hard limit, as HAProxy does: a proxied connection
// needs two descriptors and the usual soft limit of 1024 would cap hamba near 500.
FdLimit raise_fd_limit();

// Descriptors kept back from client connections: the engine's reserve (libuv's accepts, DNS,
// admin and control clients), the same figure its live accept gate keeps. The gate also counts
// what is really open (listeners, one check per server) and lowers maxconn further if needed.
constexpr uint64_t kReservedFds = engine::Engine::kDescriptorReserve;

// The default global maxconn for `fds` descriptors: two per proxied connection, less the
// reserve; at least 1.
int maxconn_for_fds(uint64_t fds);

} // namespace hamba::app
