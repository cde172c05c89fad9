// The up/down state of one server, fed by two observers:
//
// - active checks (health_check.h): `fall` consecutive failed checks take an up server down,
//   `rise` consecutive good ones bring a down server back (HAProxy's rise/fall);
// - real traffic (HAProxy's `observe layer4`): `failures` consecutive connects that fail, or
//   connections the server resets before sending its first byte, take it down at once. Traffic
//   never brings a server back: the active checks' rise does, or, with checks off, a retry
//   after `retry_after` (the caller's timer calls retry()).
//
// Pure bookkeeping, no clock and no I/O, so every transition is a unit test. Failures that are
// hamba's own (no file descriptors, no memory: base/descriptors.h) must never reach it.
//
//     HealthState h;                          // starts up
//     h.traffic_failure(3); h.traffic_failure(3);
//     h.traffic_failure(3) == Change::went_down;
//     h.check(true, 2, 3); h.check(true, 2, 3) == Change::went_up;
#pragma once

namespace hamba::balance {

class HealthState {
public:
  enum class Change { none, went_up, went_down };
  // Why the server is down: so the log and the stats can say it, and so that only a server
  // taken down by traffic comes back by retry_after when nothing checks it.
  enum class Cause { none, checks, traffic };

  bool up() const { return up_; }
  Cause down_cause() const { return up_ ? Cause::none : cause_; }

  // One active check's result.
  Change check(bool ok, int rise, int fall) {
    if (up_) {
      failures_ = ok ? 0 : failures_ + 1;
      if (failures_ >= fall)
        return go_down(Cause::checks);
    } else {
      successes_ = ok ? successes_ + 1 : 0;
      if (successes_ >= rise)
        return go_up();
    }
    return Change::none;
  }

  // A connect to the server failed, or it reset a connection before its first byte.
  // `threshold` is `observe: {failures: N}`; 0 turns passive observation off.
  Change traffic_failure(int threshold) {
    if (threshold <= 0 || !up_)
      return Change::none; // while down, clients only try it because every server is down
    if (++traffic_failures_ >= threshold)
      return go_down(Cause::traffic);
    return Change::none;
  }
  // A connection got the server's first byte, or ended cleanly: the run of failures is over.
  void traffic_success() { traffic_failures_ = 0; }
  int traffic_failures() const { return traffic_failures_; }

  // With active checks off: `retry_after` has passed since traffic took the server down; it is
  // up again for another try (the next `threshold` failures take it down again).
  Change retry() {
    if (up_ || cause_ != Cause::traffic)
      return Change::none;
    return go_up();
  }

  // Checks were turned off: nothing would bring a server they took down back, so it counts as
  // up again, as a server that is not checked does.
  void forget_checks() {
    if (!up_ && cause_ == Cause::checks)
      go_up();
    successes_ = failures_ = 0;
  }

private:
  Change go_down(Cause cause) {
    up_ = false;
    cause_ = cause;
    successes_ = 0;
    return Change::went_down;
  }
  Change go_up() {
    up_ = true;
    cause_ = Cause::none;
    failures_ = traffic_failures_ = 0;
    return Change::went_up;
  }

  bool up_ = true; // a server starts up, so the first connections need no wait
  Cause cause_ = Cause::none;
  int successes_ = 0;        // consecutive good checks, while down
  int failures_ = 0;         // consecutive failed checks, while up
  int traffic_failures_ = 0; // consecutive failed connects or early resets, while up
};

} // namespace hamba::balance
