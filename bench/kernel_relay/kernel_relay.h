// One connection's two TCP sockets paired in the BPF sockmap (sockmap.h), so that the kernel
// moves the bytes both ways and the program leaves the byte path. The variant of hamba's
// net/relay.h for plain TCP, with the same owner interface (net::RelayOwner).
//
//     KernelRelay k(map, client, server, owner, {});
//     if (!k.start(loop)) relay.start(false);  // not possible: the user relay takes them
//
// What stays in user space is the ends of the stream:
//   - start() needs both write queues empty (nothing of ours in flight) and both sockets still
//     ESTABLISHED (the kernel refuses others). Bytes already waiting in a receive queue go
//     through the program too, in order: a SO_RCVLOWAT set after the pairing wakes it for them.
//   - A FIN is never redirected (the program drops zero-length skbs). The peer's FIN shows as
//     EPOLLRDHUP on its socket (EPOLLIN never fires while the program takes the bytes). The
//     other socket's write half is shut only once every byte moved has reached its send queue:
//     the program's count against that socket's acknowledged plus queued bytes since the
//     pairing (tcpi_bytes_acked + SIOCOUTQ), retried on a short timer while the kernel's
//     workers still hold some.
//   - A reset (EPOLLERR, or a pending error) ends it, blaming that side: the owner resets the
//     other.
//   - Both sockets stay open in user space to the end (closing one would drop what the kernel
//     still holds for it); stop() takes them out of the map before the owner closes them.
//   - Bytes that arrive while the pairing's map updates are under way are lost to the stream
//     (Sockmap::pair: the pairing race), and may stall the FIN.
//   - Nothing bounds what the kernel holds for a destination that does not read: the verdict
//     takes every skb off the source's receive queue (its window reopens) and queues it on the
//     destination's psock. bench/README.md, "Kernel relay", says how one would bound it.
//
// It owns its two polls and its timer; the owner owns it, the sockets and itself.
#pragma once

#include "base/uv_handle.h"
#include "net/relay.h"
#include "net/tcp_transport.h"
#include "sockmap.h"

#include <cstdint>

namespace kbench {

class KernelRelay {
public:
  // The profile's A/B switches; the defaults are the relay as built.
  struct Options {
    bool rcvlowat = true; // SO_RCVLOWAT at the pairing: wakes the program for bytes already queued
    bool counted = true;  // the map counts the bytes (false: the FIN is passed on unordered)
    unsigned pair_gap_ms = 0; // a pause inside the pairing: widens the pairing race (its test)
  };
  KernelRelay(Sockmap& map, hamba::net::TcpTransport& client, hamba::net::TcpTransport& server,
              hamba::net::RelayOwner& owner, Options options)
      : map_(map), client_(client), server_(server), owner_(owner), options_(options) {}
  ~KernelRelay() { stop(); }
  KernelRelay(const KernelRelay&) = delete;
  KernelRelay& operator=(const KernelRelay&) = delete;

  // Pairs the sockets: true, and from then on the owner hears only on_relay_end (as from a
  // Relay). false: the kernel cannot take them (a socket no longer established, the map full);
  // the transports are as they were, for the user relay.
  bool start(uv_loop_t* loop);
  // Both sockets out of the map and the polls closed: before the sockets close. Idempotent.
  void stop();

private:
  struct Side {
    int fd = -1;
    uint64_t cookie = 0;
    uint64_t base = 0; // bytes that had entered its send queue at the pairing (+1: the SYN)
    bool eof = false;  // its peer sent FIN
    bool shut = false; // the other socket's write half is shut: this direction is done
    uvx::Handle<uv_poll_t> poll;
  };
  // Side 0 is the client, side 1 the server; bytes from side i go to side 1 - i.
  void on_poll(Side& s, int status, int events);
  void on_flush_timer() { flush(); }
  // Shuts the write halves whose source has sent FIN and whose bytes have all left.
  void flush();
  bool flushed(const Side& from, const Side& to) const;
  void end(hamba::net::RelayEnd how);
  static hamba::net::RelayEnd blame(int side) {
    return side == 0 ? hamba::net::RelayEnd::client_reset : hamba::net::RelayEnd::server_reset;
  }

  Sockmap& map_;
  hamba::net::TcpTransport& client_;
  hamba::net::TcpTransport& server_;
  hamba::net::RelayOwner& owner_;
  Options options_;
  Side sides_[2];
  uvx::Timer flush_timer_;
  uint32_t flush_wait_ms_ = 1;
  bool paired_ = false;
  bool ended_ = false;
};

} // namespace kbench
