// The connection's state table: the transitions the connection makes are allowed, the ones it
// must never make are not, and every state can end (but an ended one cannot end again).
#include "engine/connection_state.h"

#include <doctest/doctest.h>

using hamba::engine::ConnectionState;
using hamba::engine::transition_allowed;
using S = ConnectionState;

TEST_CASE("the paths a connection takes are allowed") {
  // plain: accept, pick, connect, relay, close
  CHECK(transition_allowed(S::accepted, S::choosing));
  CHECK(transition_allowed(S::choosing, S::connecting));
  CHECK(transition_allowed(S::connecting, S::relaying));
  CHECK(transition_allowed(S::relaying, S::closing));
  CHECK(transition_allowed(S::closing, S::closed));
  // preread, queue, a failed connect retried, hamba's own shortage, a header that waits
  CHECK(transition_allowed(S::accepted, S::prereading));
  CHECK(transition_allowed(S::prereading, S::choosing));
  CHECK(transition_allowed(S::choosing, S::queued));
  CHECK(transition_allowed(S::queued, S::connecting));
  CHECK(transition_allowed(S::connecting, S::choosing));
  CHECK(transition_allowed(S::connecting, S::queued));
  CHECK(transition_allowed(S::connecting, S::sending_header));
  CHECK(transition_allowed(S::sending_header, S::relaying));
  // tls: the handshake, alone or after a PROXY header
  CHECK(transition_allowed(S::accepted, S::handshaking));
  CHECK(transition_allowed(S::prereading, S::handshaking));
  CHECK(transition_allowed(S::handshaking, S::choosing));
}

TEST_CASE("no way back, no skipping the connect, and one end only") {
  CHECK_FALSE(transition_allowed(S::relaying, S::connecting));
  CHECK_FALSE(transition_allowed(S::queued, S::relaying));
  CHECK_FALSE(transition_allowed(S::prereading, S::connecting));
  CHECK_FALSE(transition_allowed(S::accepted, S::relaying));
  CHECK_FALSE(transition_allowed(S::handshaking, S::connecting));
  CHECK_FALSE(transition_allowed(S::handshaking, S::relaying));
  CHECK_FALSE(transition_allowed(S::choosing, S::handshaking));
  CHECK_FALSE(transition_allowed(S::closed, S::closing));
  CHECK_FALSE(transition_allowed(S::closing, S::closing));
  CHECK_FALSE(transition_allowed(S::closed, S::accepted));
  for (int s = 0; s <= static_cast<int>(S::relaying); ++s)
    CHECK(transition_allowed(static_cast<S>(s), S::closing));
}
