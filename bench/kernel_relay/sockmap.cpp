// The BPF sockmap behind bench_kernel_relay; see sockmap.h.
#include "sockmap.h"

#include "relay.bpf.inc" // kRelayBpf: the programs' object file, built by clang

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

namespace kbench {

namespace {
// The value the program keeps per socket (relay.bpf.c's struct peer).
struct Peer {
  uint64_t cookie;
  uint64_t bytes;
};

std::string error_text(int err) {
  return uv_strerror(uv_translate_sys_error(err));
}
} // namespace

struct Sockmap::Object {
  bpf_object* obj = nullptr;
  ~Object() { bpf_object__close(obj); }
};

uint64_t Sockmap::cookie_of(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0)
    return 0;
  return cookie;
}

std::unique_ptr<Sockmap> Sockmap::load(bool counted, std::string& why) {
  libbpf_set_print(nullptr); // its failures come back as errors, told in one line below
  std::unique_ptr<Sockmap> map(new Sockmap);
  map->object_ = std::make_unique<Object>();
  bpf_object_open_opts opts{};
  opts.sz = sizeof opts;
  opts.object_name = "kbench_relay";
  bpf_object* obj = bpf_object__open_mem(kRelayBpf, sizeof kRelayBpf, &opts);
  if (!obj) {
    why = "the BPF object does not open: " + error_text(errno);
    return nullptr;
  }
  map->object_->obj = obj;
  if (int rc = bpf_object__load(obj); rc != 0) {
    why = "the BPF sockmap program does not load (CAP_BPF and CAP_NET_ADMIN needed, and a "
          "kernel with sockmap): " +
          error_text(-rc);
    return nullptr;
  }
  const char* name = counted ? "relay_verdict" : "relay_verdict_uncounted";
  bpf_program* prog = bpf_object__find_program_by_name(obj, name);
  map->sockets_fd_ = bpf_object__find_map_fd_by_name(obj, "sockets");
  map->peers_fd_ = bpf_object__find_map_fd_by_name(obj, "peers");
  if (!prog || map->sockets_fd_ < 0 || map->peers_fd_ < 0) {
    why = "the BPF object lacks its program or maps";
    return nullptr;
  }
  if (bpf_prog_attach(bpf_program__fd(prog), map->sockets_fd_, BPF_SK_SKB_STREAM_VERDICT, 0) != 0) {
    why = "the stream-verdict program does not attach to the sockmap: " + error_text(errno);
    return nullptr;
  }
  return map;
}

Sockmap::~Sockmap() = default;

int Sockmap::pair(int a, uint64_t a_cookie, int b, uint64_t b_cookie, unsigned gap_ms) {
  // The sockets first: until they are paired the program passes their bytes up (to user space).
  uint64_t fd = static_cast<uint64_t>(a);
  if (bpf_map_update_elem(sockets_fd_, &a_cookie, &fd, BPF_ANY) != 0)
    return uv_translate_sys_error(errno);
  fd = static_cast<uint64_t>(b);
  if (bpf_map_update_elem(sockets_fd_, &b_cookie, &fd, BPF_ANY) != 0)
    return uv_translate_sys_error(errno);
  if (gap_ms > 0)
    ::usleep(gap_ms * 1000); // blocks the loop: a test's knob, never a benchmark's
  Peer to_b{b_cookie, 0}, to_a{a_cookie, 0};
  if (bpf_map_update_elem(peers_fd_, &a_cookie, &to_b, BPF_ANY) != 0)
    return uv_translate_sys_error(errno);
  if (bpf_map_update_elem(peers_fd_, &b_cookie, &to_a, BPF_ANY) != 0) {
    int rc = uv_translate_sys_error(errno);
    bpf_map_delete_elem(peers_fd_, &a_cookie);
    return rc;
  }
  return 0;
}

void Sockmap::unpair(uint64_t a_cookie, uint64_t b_cookie) {
  bpf_map_delete_elem(peers_fd_, &a_cookie);
  bpf_map_delete_elem(peers_fd_, &b_cookie);
  bpf_map_delete_elem(sockets_fd_, &a_cookie);
  bpf_map_delete_elem(sockets_fd_, &b_cookie);
}

uint64_t Sockmap::bytes_from(uint64_t cookie) const {
  Peer p{};
  if (bpf_map_lookup_elem(peers_fd_, &cookie, &p) != 0)
    return 0;
  return p.bytes;
}

} // namespace kbench
