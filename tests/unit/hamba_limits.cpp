// The CPUs and file descriptors hamba derives its defaults from, on machines given as file
// contents: /proc/self/cgroup and cgroup v2 cpu.max.
#include "app/limits.h"

#include <doctest/doctest.h>

using namespace hamba::app;

TEST_CASE("cgroup v2 path from /proc/self/cgroup") {
  CHECK(cgroup_v2_path("0::/\n") == "/");
  CHECK(cgroup_v2_path("0::/system.slice/docker-abc.scope\n") == "/system.slice/docker-abc.scope");
  // Hybrid: v1 lines first, the unified one last.
  CHECK(cgroup_v2_path("12:cpu,cpuacct:/docker/abc\n1:name=systemd:/x\n0::/user.slice\n") ==
        "/user.slice");
  CHECK(!cgroup_v2_path("12:cpu,cpuacct:/docker/abc\n")); // v1 only
  CHECK(!cgroup_v2_path(""));
}

TEST_CASE("cpu.max: a quota rounds up to whole CPUs, max is none") {
  CHECK(cpu_max_cpus("150000 100000\n") == 2); // docker --cpus 1.5
  CHECK(cpu_max_cpus("100000 100000\n") == 1);
  CHECK(cpu_max_cpus("50000 100000") == 1); // half a CPU still needs one thread
  CHECK(cpu_max_cpus("400000 100000\n") == 4);
  CHECK(!cpu_max_cpus("max 100000\n"));
  CHECK(!cpu_max_cpus(""));
  CHECK(!cpu_max_cpus("garbage"));
  CHECK(!cpu_max_cpus("0 100000"));
  CHECK(!cpu_max_cpus("-1 100000"));
}

TEST_CASE("usable CPUs: the affinity mask, lowered to the quota, never more than the CPUs") {
  CHECK(usable_cpus(8, cpu_max_cpus("150000 100000")) == 2);
  CHECK(usable_cpus(2, cpu_max_cpus("400000 100000")) == 2); // a quota above the CPUs
  CHECK(usable_cpus(4, std::nullopt) == 4);
  CHECK(usable_cpus(0, std::nullopt) == 1);
  CHECK(usable_cpus() >= 1); // this machine's
}

TEST_CASE("default maxconn: two descriptors per connection, a reserve kept back") {
  CHECK(maxconn_for_fds(1024) == static_cast<int>((1024 - kReservedFds) / 2));
  CHECK(maxconn_for_fds(1048576) == static_cast<int>((1048576 - kReservedFds) / 2));
  CHECK(maxconn_for_fds(10) == 1);
  CHECK(maxconn_for_fds(0) == 1);
}

TEST_CASE("raise_fd_limit: the soft limit becomes the hard one") {
  FdLimit fds = raise_fd_limit();
  CHECK(fds.now >= fds.before);
  CHECK(raise_fd_limit().before == fds.now); // idempotent
}
