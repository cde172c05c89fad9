// --send-proxy and --accept-proxy (and their variables) on the command line.
#include "cli/command.h"

#include <doctest/doctest.h>

using namespace hamba;
using config::ProxyProtocol;

namespace {

std::string error_of(std::vector<std::string> args, cli::Environment env = {}) {
  try {
    cli::parse(std::move(args), env);
  } catch (const cli::UsageError& e) {
    return e.what();
  }
  FAIL("no error");
  return {};
}

} // namespace

TEST_CASE("cli: --send-proxy and --accept-proxy set the frontend") {
  auto f =
      cli::parse({"--send-proxy", "v1", "--accept-proxy", "80", "a:1"}, {}).config.frontends.at(0);
  CHECK(f.send_proxy == ProxyProtocol::v1);
  CHECK(f.accept_proxy);
  CHECK(f.servers.size() == 1); // --accept-proxy took no word: "80" is still the port
  f = cli::parse({"--send-proxy=v2", "--accept-proxy=false", "80", "a:1"}, {})
          .config.frontends.at(0);
  CHECK(f.send_proxy == ProxyProtocol::v2);
  CHECK_FALSE(f.accept_proxy);
  f = cli::parse({"80", "a:1"}, {{"HAMBA_SEND_PROXY", "v2"}, {"HAMBA_ACCEPT_PROXY", "1"}})
          .config.frontends.at(0);
  CHECK(f.send_proxy == ProxyProtocol::v2);
  CHECK(f.accept_proxy);
  f = cli::parse({"80", "a:1"}, {}).config.frontends.at(0);
  CHECK(f.send_proxy == ProxyProtocol::none);
  CHECK_FALSE(f.accept_proxy);
}

TEST_CASE("cli: bad --send-proxy and HAMBA_ACCEPT_PROXY values are named") {
  CHECK(error_of({"--send-proxy", "v3", "80", "a:1"}) ==
        "--send-proxy \"v3\" is not a PROXY protocol version (v1, v2 or none)");
  CHECK(error_of({"80", "a:1"}, {{"HAMBA_ACCEPT_PROXY", "maybe"}}) ==
        "HAMBA_ACCEPT_PROXY \"maybe\" is neither true nor false");
  CHECK(error_of({"--send-proxy"}) == "option \"--send-proxy\" needs a value");
}
