// The BPF sockmap behind bench_kernel_relay (kernel_relay.h): the stream-verdict program of
// relay.bpf.c, built by clang at build time and embedded in the program, and its two maps.
//
//     std::string why;
//     auto map = Sockmap::load(true, why);   // before the workers start; nullptr: `why`
//     map->pair(client_fd, c_cookie, server_fd, s_cookie);
//     map->unpair(c_cookie, s_cookie);
//
// Loading needs CAP_BPF and CAP_NET_ADMIN and a kernel with sockmap (CONFIG_BPF_STREAM_PARSER).
// Every call after the load is a system call on the maps, safe from any thread: the object
// holds no state of its own. The maps hold 32768 pairs (a pair that does not fit stays in user
// space).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace kbench {

class Sockmap {
public:
  // The loaded program, or nullptr with `why` in a sentence (no capability, no sockmap in this
  // kernel). `counted`: the program that counts the bytes it moves (bytes_from); without it,
  // bytes_from is always 0 (the profile's A/B only).
  static std::unique_ptr<Sockmap> load(bool counted, std::string& why);
  ~Sockmap();
  Sockmap(const Sockmap&) = delete;
  Sockmap& operator=(const Sockmap&) = delete;

  // The kernel's cookie of a socket (its key in the maps), 0 when it has none.
  static uint64_t cookie_of(int fd);
  // Puts two connected sockets in the map, then pairs them: from then on the program moves each
  // one's received bytes (and those already queued, at the next wakeup) out of the other.
  // 0, or a libuv error (UV_ENOTSUP: a socket no longer ESTABLISHED, as once its peer sent
  // FIN). On an error nothing is paired, but a socket that went in stays in until it closes:
  // taking it out would drop what it received meanwhile (the user relay reads that).
  // Known fault (bench/README.md, "the pairing race"): bytes that arrive between the first
  // update and the last are passed up to the socket (it has no partner yet), where nobody reads
  // them once paired; later bytes are redirected past them. The fix is in that section.
  // `gap_ms`: a pause between the sockhash's updates and the peers' (the race's test only).
  int pair(int a, uint64_t a_cookie, int b, uint64_t b_cookie, unsigned gap_ms = 0);
  // Unpairs and takes both out of the map (their queues must be empty: what the kernel holds
  // for them is dropped).
  void unpair(uint64_t a_cookie, uint64_t b_cookie);
  // Bytes the program moved from the socket `cookie` to its partner.
  uint64_t bytes_from(uint64_t cookie) const;

private:
  Sockmap() = default;
  struct Object;
  std::unique_ptr<Object> object_;
  int sockets_fd_ = -1; // BPF_MAP_TYPE_SOCKHASH, by cookie
  int peers_fd_ = -1;   // cookie -> {partner's cookie, bytes moved}
};

} // namespace kbench
