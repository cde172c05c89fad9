// Assertions for the invariants the code relies on (a counter never below zero, a transition
// allowed, a connection finished once), as Envoy asserts its own: a broken invariant stops the
// process with one line naming it, rather than going on with corrupt state.
//
//   HAMBA_CHECK(cond)   always on: for cheap checks on paths that are not per byte.
//   HAMBA_DCHECK(cond)  on in every build but Release (the tests' RelWithDebInfo build, Debug
//                       and the sanitizer builds): for checks that cost on the hot path.
#pragma once

namespace hamba::base {
[[noreturn]] void check_failed(const char* condition, const char* file, int line);
} // namespace hamba::base

#define HAMBA_CHECK(cond)                                                                          \
  ((cond) ? static_cast<void>(0) : ::hamba::base::check_failed(#cond, __FILE__, __LINE__))

#if defined(HAMBA_DCHECKS)
#define HAMBA_DCHECK(cond) HAMBA_CHECK(cond)
#else
#define HAMBA_DCHECK(cond) static_cast<void>(sizeof(static_cast<bool>(cond)))
#endif
