// The relay: bytes both ways between two transports (net/transport.h), and nothing else.
//
// Per direction: what the source reads is written to the destination; while the destination's
// queue is above its high mark the source is not read (backpressure), and reading resumes when
// the queue falls to the low mark. The source's EOF becomes a shutdown of the destination's
// write half once its queue is written (half-close); a reset or a failed write ends the relay,
// blaming the side that failed, and the connection resets the other one. When both directions
// have ended in order, the relay ends `closed`.
//
// It owns nothing: the connection (engine/connection.h) owns both transports and the relay,
// points the transports' handler here once it relays, and is told of activity and of the end.
// After on_relay_end, the relay calls nothing again.
#pragma once

#include "net/transport.h"

#include <cstddef>
#include <cstdint>

namespace hamba::net {

enum class Direction : uint8_t { to_server, to_client };

// How a relay ended, and who is to blame.
enum class RelayEnd : uint8_t {
  closed,       // both sides sent EOF and everything read was written
  client_reset, // the client reset, or writing or shutting down toward it failed
  server_reset, // the same on the server's side
};

class RelayOwner {
public:
  // `bytes` were read in direction `dir` and handed on (0: a queue drained: activity too).
  virtual void on_relay_activity(Direction dir, size_t bytes) = 0;
  virtual void on_relay_end(RelayEnd how) = 0;

  virtual ~RelayOwner() = default;
};

class Relay final : public TransportHandler {
public:
  Relay(Transport& client, Transport& server, RelayOwner& owner)
      : client_(client), server_(&server), owner_(owner) {}
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Takes over both transports' events and starts relaying. Bytes already written toward the
  // server (read ahead, a PROXY header) may still be queued: the client is read once they are
  // below the server's high mark. `client_eof`: the client's EOF came before (while read ahead).
  // Returns false when that ended the relay (on_relay_end was called).
  bool start(bool client_eof);
  bool ended() const { return ended_; }
  // Before start(): the server's transport is this one (plain TCP, or TLS over it, as the
  // server the connection chose is spoken to).
  void set_server(Transport& server) { server_ = &server; }

  void on_read(Transport& from, const char* data, size_t len) override;
  void on_eof(Transport& from) override;
  void on_error(Transport& from, int error) override;
  void on_drained(Transport& to) override;
  void on_shut(Transport& to) override;

private:
  struct Way {
    bool eof = false;    // the source sent EOF
    bool shut = false;   // the destination's write half is shut
    bool paused = false; // the source is not read: the destination's queue is above high
  };
  Direction from_side(const Transport& t) const {
    return &t == &client_ ? Direction::to_server : Direction::to_client;
  }
  Transport& source(Direction d) { return d == Direction::to_server ? client_ : *server_; }
  Transport& destination(Direction d) { return d == Direction::to_server ? *server_ : client_; }
  Way& way(Direction d) { return ways_[static_cast<int>(d)]; }
  static Direction other(Direction d) {
    return d == Direction::to_server ? Direction::to_client : Direction::to_server;
  }
  static RelayEnd blame(Direction side_of) { // the side a transport of this direction is on
    return side_of == Direction::to_server ? RelayEnd::client_reset : RelayEnd::server_reset;
  }
  void eof(Direction d);
  void shut(Direction d);
  void end(RelayEnd how);

  Transport& client_;
  Transport* server_;
  RelayOwner& owner_;
  Way ways_[2];
  bool ended_ = false;
};

} // namespace hamba::net
