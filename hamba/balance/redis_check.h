// The redis health check: PING, healthy on +PONG. A Redis that is loading its dataset, busy
// with a script, or wants a password answers with an error (-LOADING, -BUSY, -NOAUTH), which
// is a fail naming that error, as the ambassador's users want: such a server cannot serve yet.
#pragma once

#include "balance/check_protocol.h"

#include <string>

namespace hamba::balance {

class RedisCheck final : public CheckProtocol {
public:
  // The longest first reply line read before giving up.
  static constexpr size_t kMaxLine = 512;

  std::string request() const override { return "*1\r\n$4\r\nPING\r\n"; }
  Verdict feed(std::string_view bytes) override;
  Verdict end() override;

private:
  std::string line_;
};

} // namespace hamba::balance
