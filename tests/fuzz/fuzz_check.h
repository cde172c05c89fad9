// What every fuzz target asserts with: a broken property stops the run at once (a trap, which
// libFuzzer reports with the input that caused it), in the replay build too.
#pragma once

namespace fuzz {

inline void check(bool ok) {
  if (!ok)
    __builtin_trap();
}

} // namespace fuzz
