// How long a send_proxy header waits for the client's first bytes before it goes alone.
//
// The header and the client's first bytes go in one write, one segment for the server. When the
// client has sent nothing by the time the server's connect completes, the header waits for it;
// a server that speaks first (SMTP, MySQL) must not wait long for a header that would then go
// alone. How long clients take is learnt per frontend (per worker, so no atomics): about twice
// what they took lately, between kMinMs and kMaxMs, and back towards kMinMs each time a server
// is seen speaking first. Clients on a loaded host take milliseconds (bench/README.md: with a
// fixed millisecond, 84% of the bench's headers went alone).
#pragma once

#include <algorithm>
#include <cstdint>

namespace hamba::engine {

class HeaderWait {
public:
  static constexpr uint64_t kMinMs = 1;
  static constexpr uint64_t kMaxMs = 16;

  uint64_t ms() const { return (x8_ + 7) / 8; }
  // A client's first bytes came `ms` after its header began to wait.
  void client_spoke_after(uint64_t ms) {
    move_toward(std::clamp<uint64_t>(2 * ms + 1, kMinMs, kMaxMs));
  }
  // A server spoke before its client did (the header had gone alone).
  void server_spoke_first() { move_toward(kMinMs); }

private:
  // A moving average over about eight sessions, in eighths of a millisecond; every step moves
  // at least one eighth, so it reaches its target.
  void move_toward(uint64_t target_ms) {
    int64_t diff = static_cast<int64_t>(8 * target_ms) - static_cast<int64_t>(x8_);
    if (diff != 0)
      x8_ = static_cast<uint64_t>(static_cast<int64_t>(x8_) +
                                  (diff > 0 ? (diff + 7) / 8 : (diff - 7) / 8));
  }

  uint64_t x8_ = 8 * kMinMs;
};

} // namespace hamba::engine
