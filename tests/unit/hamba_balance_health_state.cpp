// Server health: active rise/fall, passive observation of traffic, retry_after, and which
// failures are hamba's own.
#include "balance/health_state.h"
#include "base/descriptors.h"

#include <doctest/doctest.h>
#include <initializer_list>
#include <uv.h>

using namespace hamba::balance;
using Change = HealthState::Change;
using Cause = HealthState::Cause;

TEST_CASE("checks: fall failures take an up server down, rise successes bring it back") {
  HealthState h;
  CHECK(h.up());
  CHECK(h.check(false, 2, 3) == Change::none);
  CHECK(h.check(false, 2, 3) == Change::none);
  CHECK(h.check(true, 2, 3) == Change::none); // the run is broken
  CHECK(h.check(false, 2, 3) == Change::none);
  CHECK(h.check(false, 2, 3) == Change::none);
  CHECK(h.check(false, 2, 3) == Change::went_down);
  CHECK(h.down_cause() == Cause::checks);
  CHECK(h.check(true, 2, 3) == Change::none);
  CHECK(h.check(false, 2, 3) == Change::none); // broken again
  CHECK(h.check(true, 2, 3) == Change::none);
  CHECK(h.check(true, 2, 3) == Change::went_up);
  CHECK(h.down_cause() == Cause::none);
}

TEST_CASE("traffic: N consecutive failures mark down at once; a success breaks the run") {
  HealthState h;
  CHECK(h.traffic_failure(3) == Change::none);
  CHECK(h.traffic_failure(3) == Change::none);
  h.traffic_success();
  CHECK(h.traffic_failures() == 0);
  CHECK(h.traffic_failure(3) == Change::none);
  CHECK(h.traffic_failure(3) == Change::none);
  CHECK(h.traffic_failure(3) == Change::went_down);
  CHECK_FALSE(h.up());
  CHECK(h.down_cause() == Cause::traffic);
  // While down, more failures (clients trying it because every server is down) change nothing.
  CHECK(h.traffic_failure(3) == Change::none);
}

TEST_CASE("traffic never brings a server back: the active checks' rise does") {
  HealthState h;
  for (int i = 0; i < 3; ++i)
    h.traffic_failure(3);
  REQUIRE_FALSE(h.up());
  h.traffic_success();
  CHECK_FALSE(h.up());
  CHECK(h.check(true, 2, 3) == Change::none);
  CHECK(h.check(true, 2, 3) == Change::went_up);
  CHECK(h.traffic_failures() == 0); // a fresh run of failures after coming back
  CHECK(h.traffic_failure(3) == Change::none);
}

TEST_CASE("checks off: retry() brings back a server that traffic took down, only that one") {
  HealthState by_traffic;
  for (int i = 0; i < 2; ++i)
    by_traffic.traffic_failure(2);
  REQUIRE_FALSE(by_traffic.up());
  CHECK(by_traffic.retry() == Change::went_up);
  CHECK(by_traffic.retry() == Change::none);
  // Down again after another run of failures.
  by_traffic.traffic_failure(2);
  CHECK(by_traffic.traffic_failure(2) == Change::went_down);

  HealthState by_checks;
  for (int i = 0; i < 3; ++i)
    by_checks.check(false, 2, 3);
  REQUIRE_FALSE(by_checks.up());
  CHECK(by_checks.retry() == Change::none); // the checks decide
  by_checks.forget_checks();                // ...until they are turned off
  CHECK(by_checks.up());
}

TEST_CASE("observe off (threshold 0): traffic failures never take a server down") {
  HealthState h;
  for (int i = 0; i < 100; ++i)
    CHECK(h.traffic_failure(0) == Change::none);
  CHECK(h.up());
}

TEST_CASE("a failed check and a failed connect count separately") {
  HealthState h;
  h.check(false, 2, 3);
  h.check(false, 2, 3);
  h.traffic_failure(3);
  h.traffic_failure(3);
  CHECK(h.up());
  CHECK(h.check(false, 2, 3) == Change::went_down);
  CHECK(h.down_cause() == Cause::checks);
}

TEST_CASE("hamba's own shortages are not the server's fault; refusals and resets are") {
  for (int local : std::initializer_list<int>{UV_EMFILE, UV_ENFILE, UV_ENOBUFS, UV_ENOMEM})
    CHECK(hamba::is_local_error(local));
  for (int remote :
       std::initializer_list<int>{UV_ECONNREFUSED, UV_ECONNRESET, UV_ETIMEDOUT, UV_EHOSTUNREACH,
                                  UV_ENETUNREACH, UV_EPIPE, UV_EOF, 0})
    CHECK_FALSE(hamba::is_local_error(remote));
}
