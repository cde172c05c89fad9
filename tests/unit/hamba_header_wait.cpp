// The send_proxy header's wait for the client's first bytes: learnt, bounded, and back to the
// least when servers speak first.
#include "engine/header_wait.h"

#include <doctest/doctest.h>

using hamba::engine::HeaderWait;

TEST_CASE("the header's wait starts at the least") {
  HeaderWait w;
  CHECK(w.ms() == HeaderWait::kMinMs);
}

TEST_CASE("clients that take a few milliseconds teach a wait of about twice that") {
  HeaderWait w;
  for (int i = 0; i < 64; ++i)
    w.client_spoke_after(3);
  CHECK(w.ms() == 7);
  for (int i = 0; i < 64; ++i)
    w.client_spoke_after(0); // quick again: back down
  CHECK(w.ms() == HeaderWait::kMinMs);
}

TEST_CASE("a slow client does not make the wait unbounded") {
  HeaderWait w;
  for (int i = 0; i < 64; ++i)
    w.client_spoke_after(10'000);
  CHECK(w.ms() == HeaderWait::kMaxMs);
}

TEST_CASE("servers that speak first bring the wait back to the least") {
  HeaderWait w;
  for (int i = 0; i < 64; ++i)
    w.client_spoke_after(10'000);
  for (int i = 0; i < 64; ++i)
    w.server_spoke_first();
  CHECK(w.ms() == HeaderWait::kMinMs);
}

TEST_CASE("one slow client among quick ones moves the wait a little") {
  HeaderWait w;
  w.client_spoke_after(10'000);
  CHECK(w.ms() == 3); // an eighth of the way to 16 ms
}
