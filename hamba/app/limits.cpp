// CPUs and file descriptors this process may use; see limits.h.
#include "app/limits.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <fstream>
#include <sched.h>
#include <sstream>
#include <sys/resource.h>

namespace hamba::app {

namespace {

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<long long> whole_number(std::string_view text) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

} // namespace

std::optional<std::string> cgroup_v2_path(std::string_view text) {
  // One line per hierarchy, "ID:CONTROLLERS:PATH"; the v2 (unified) one is "0::PATH".
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    if (line.substr(0, 3) == "0::")
      return std::string(line.substr(3));
    if (eol == std::string_view::npos)
      break;
    text.remove_prefix(eol + 1);
  }
  return std::nullopt;
}

std::optional<int> cpu_max_cpus(std::string_view text) {
  // "QUOTA PERIOD\n" in microseconds, QUOTA "max" for none.
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.remove_suffix(1);
  size_t space = text.find(' ');
  if (space == std::string_view::npos)
    return std::nullopt;
  std::optional<long long> quota = whole_number(text.substr(0, space));
  std::optional<long long> period = whole_number(text.substr(space + 1));
  if (!quota || !period || *quota <= 0 || *period <= 0)
    return std::nullopt; // "max", or nothing sensible
  long long cpus = (*quota + *period - 1) / *period;
  return static_cast<int>(std::min<long long>(cpus, INT_MAX));
}

int usable_cpus(int affinity_cpus, std::optional<int> quota_cpus) {
  int n = affinity_cpus;
  if (quota_cpus)
    n = std::min(n, *quota_cpus);
  return std::max(n, 1);
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  int affinity = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  std::optional<int> quota;
  if (auto text = read_file("/proc/self/cgroup"))
    if (auto path = cgroup_v2_path(*text)) {
      // The cgroup and every parent up to the root: the tightest quota wins.
      std::string dir = *path;
      while (true) {
        std::string file = "/sys/fs/cgroup" + (dir == "/" ? std::string() : dir) + "/cpu.max";
        if (auto max = read_file(file))
          if (auto cpus = cpu_max_cpus(*max))
            quota = quota ? std::min(*quota, *cpus) : *cpus;
        if (dir.empty() || dir == "/")
          break;
        size_t slash = dir.rfind('/');
        dir = slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
      }
    }
  return usable_cpus(affinity, quota);
}

FdLimit raise_fd_limit() {
  FdLimit result;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return result;
  result.before = result.now = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    // An unlimited hard limit cannot be the soft one (the kernel caps it at fs.nr_open).
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
      result.now = raised.rlim_cur;
  }
  return result;
}

int maxconn_for_fds(uint64_t fds) {
  if (fds <= kReservedFds + 2)
    return 1;
  return static_cast<int>(std::min<uint64_t>((fds - kReservedFds) / 2, INT_MAX));
}

} // namespace hamba::app
