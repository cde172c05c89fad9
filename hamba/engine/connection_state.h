// The states of a proxied connection and the transitions allowed between them, in one table.
//
//   accepted ──> prereading ──> choosing ──> connecting ──> relaying ──> closing ──> closed
//                     │            │  ^  ╲        │  ╲          ^
//                     │            v  │   ╲       │   ╲─> sending_header
//                     │          queued ───> connecting (a slot was given)
//                     └─────── every state but closed may go to closing ───────┘
//
// prereading: the client's PROXY header and/or TLS ClientHello are read ahead (accept_proxy,
// routes). handshaking: a frontend with tls terminates it (net/tls_transport.h), after the PROXY
// header if one is due, before the choice (routes match the handshake's server name); accepted
// and prereading go there instead of to choosing. choosing: a server is picked (again after a
// failed connect). queued: no server has room; the client waits, read ahead so that its hang-up is
// seen. connecting: a server's connect is in flight. sending_header: connected, the send_proxy
// header waits for the client's first bytes (so both go in one segment) or for the server to speak
// first. relaying: net/relay.h moves the bytes. closing: the end is being recorded and both sides
// closed. closed: nothing is left but the memory, freed at the loop's next phase.
#pragma once

#include <cstdint>

namespace hamba::engine {

enum class ConnectionState : uint8_t {
  accepted,
  prereading,
  handshaking,
  choosing,
  queued,
  connecting,
  sending_header,
  relaying,
  closing,
  closed,
};

constexpr const char* state_name(ConnectionState s) {
  constexpr const char* names[] = {"accepted", "prereading", "handshaking",    "choosing",
                                   "queued",   "connecting", "sending header", "relaying",
                                   "closing",  "closed"};
  return names[static_cast<int>(s)];
}

// The one table of allowed transitions.
constexpr bool transition_allowed(ConnectionState from, ConnectionState to) {
  using S = ConnectionState;
  if (to == S::closing)
    return from != S::closing && from != S::closed;
  switch (from) {
  case S::accepted:
    return to == S::prereading || to == S::handshaking || to == S::choosing;
  case S::prereading:
    return to == S::handshaking || to == S::choosing;
  case S::handshaking:
    return to == S::choosing;
  case S::choosing:
    return to == S::queued || to == S::connecting;
  case S::queued:
    return to == S::connecting;
  case S::connecting:
    // a failed connect: the next server (choosing), or back to the queue (hamba's own shortage)
    return to == S::relaying || to == S::sending_header || to == S::choosing || to == S::queued;
  case S::sending_header:
    return to == S::relaying;
  case S::relaying:
    return false;
  case S::closing:
    return to == S::closed;
  case S::closed:
    return false;
  }
  return false;
}

} // namespace hamba::engine
