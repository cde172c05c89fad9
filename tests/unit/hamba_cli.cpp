// The command-line parser: every form of the original, every option and variable, every error.
#include "cli/command.h"
#include "cli/option_table.h"

#include <doctest/doctest.h>

using namespace hamba;
using cli::Action;

namespace {
cli::Command parse(std::vector<std::string> args, cli::Environment env = {}) {
  return cli::parse(std::move(args), env);
}

std::string error_of(std::vector<std::string> args, cli::Environment env = {}) {
  try {
    cli::parse(std::move(args), env);
  } catch (const cli::UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

config::Endpoint ep(std::string host, uint16_t port) {
  return {std::move(host), port};
}
} // namespace

TEST_CASE("no argument means usage; --help and --version") {
  CHECK(parse({}).action == Action::usage);
  CHECK(parse({"--help"}).action == Action::help);
  CHECK(parse({"-h"}).action == Action::help);
  CHECK(parse({"--version"}).action == Action::version);
  CHECK(cli::usage_text().find("reconfigure") != std::string::npos);
  CHECK(cli::usage_text().find("HAMBA_CONNECT_TIMEOUT") != std::string::npos);
}

TEST_CASE("PORT and HOST:PORT servers") {
  auto cmd = parse({"80", "rng1:8080", "rng2:8081"});
  CHECK(cmd.action == Action::run);
  REQUIRE(cmd.config.frontends.size() == 1);
  const auto& f = cmd.config.frontends[0];
  CHECK(f.bind == ep("", 80));
  CHECK(f.name == "80");
  REQUIRE(f.servers.size() == 2);
  CHECK(f.servers[0].address == ep("rng1", 8080));
  CHECK(f.servers[1].address == ep("rng2", 8081));
}

TEST_CASE("HOST PORT pairs, mixed with HOST:PORT") {
  auto cmd = parse({"80", "rng1", "80", "rng2:81", "rng3", "82"});
  const auto& b = cmd.config.frontends.at(0).servers;
  REQUIRE(b.size() == 3);
  CHECK(b[0].address == ep("rng1", 80));
  CHECK(b[1].address == ep("rng2", 81));
  CHECK(b[2].address == ep("rng3", 82));
}

TEST_CASE("ADDR:PORT to listen on, IPv6 in brackets") {
  auto cmd = parse({"127.0.0.1:6379", "[::1]:6380", "[fd00::2]", "6381"});
  const auto& f = cmd.config.frontends.at(0);
  CHECK(f.bind == ep("127.0.0.1", 6379));
  CHECK(f.servers.at(0).address == ep("::1", 6380));
  CHECK(f.servers.at(1).address == ep("fd00::2", 6381));
  CHECK(parse({"[::1]:80", "a:1"}).config.frontends.at(0).bind == ep("::1", 80));
}

TEST_CASE("a first argument with spaces is split again") {
  auto cmd = parse({"80 rng1 80 rng2:80"});
  const auto& f = cmd.config.frontends.at(0);
  CHECK(f.bind.port == 80);
  REQUIRE(f.servers.size() == 2);
  CHECK(f.servers[0].address == ep("rng1", 80));
  CHECK(parse({"debugconfig 80 a:1"}).action == Action::debugconfig);
}

TEST_CASE("actions") {
  CHECK(parse({"run"}).action == Action::run);
  CHECK_FALSE(parse({"run"}).has_frontend);
  CHECK(parse({"run"}).config.frontends.empty());
  auto run = parse({"run", "80", "a:1"});
  CHECK(run.action == Action::run);
  CHECK(run.has_frontend);
  CHECK(parse({"reconfigure", "80", "a:1"}).action == Action::reconfigure);
  CHECK(parse({"debugconfig", "80", "a:1"}).action == Action::debugconfig);
  CHECK(parse({"showconfig"}).action == Action::showconfig);
  CHECK(parse({"status"}).action == Action::status);
  auto drain = parse({"drain", "rng1:80"});
  CHECK(drain.action == Action::drain);
  CHECK(drain.target == "rng1:80");
  CHECK(parse({"enable", "a:1"}).action == Action::enable);
  CHECK(parse({"disable", "a:1"}).action == Action::disable);
}

TEST_CASE("options and their variables; the option wins") {
  auto cmd = parse({"--connect-timeout", "2s", "--idle-timeout=1m", "--check-interval", "500ms",
                    "--maxconn", "100", "--server-maxconn", "7", "--balance", "leastconn",
                    "--grace", "3s", "--retries", "1", "--resolve-interval", "10s", "80", "a:1"});
  const auto& c = cmd.config;
  const auto& f = c.frontends.at(0);
  CHECK(f.connect_timeout == config::Duration(2000));
  CHECK(f.idle_timeout == config::Duration(60000));
  CHECK(f.check.interval == config::Duration(500));
  CHECK(f.resolve_interval == config::Duration(10000));
  CHECK(c.maxconn == 100);
  CHECK(f.servers.at(0).maxconn == 7);
  CHECK(f.balance == config::Balance::leastconn);
  CHECK(c.grace == config::Duration(3000));
  CHECK(f.retries == 1);

  cli::Environment env{{"HAMBA_CONNECT_TIMEOUT", "3s"},
                       {"HAMBA_MAXCONN", "10"},
                       {"HAMBA_BALANCE", "leastconn"},
                       {"ADMIN", "127.0.0.1:8404"},
                       {"HAMBA_CONTROL", "/tmp/x.sock"},
                       {"HAMBA_SERVER_MAXCONN", "5"},
                       {"HAMBA_GRACE", "1s"},
                       {"HAMBA_RETRIES", "0"},
                       {"HAMBA_IDLE_TIMEOUT", "9s"},
                       {"HAMBA_CHECK_INTERVAL", "1s"}};
  auto e = parse({"80", "a:1"}, env);
  CHECK(e.config.frontends.at(0).connect_timeout == config::Duration(3000));
  CHECK(e.config.frontends.at(0).idle_timeout == config::Duration(9000));
  CHECK(e.config.frontends.at(0).check.interval == config::Duration(1000));
  CHECK(e.config.frontends.at(0).servers.at(0).maxconn == 5);
  CHECK(e.config.frontends.at(0).retries == 0);
  CHECK(e.config.maxconn == 10);
  CHECK(e.config.grace == config::Duration(1000));
  CHECK(e.config.admin == "127.0.0.1:8404");
  CHECK(e.control_path == "/tmp/x.sock");
  auto o = parse({"--maxconn", "20", "--admin", "127.0.0.1:9000", "80", "a:1"}, env);
  CHECK(o.config.maxconn == 20);
  CHECK(o.config.admin == "127.0.0.1:9000");

  auto files = parse({"run", "--config", "a.yaml", "--config=b.yaml", "--control", "/c"});
  CHECK(files.config_files == std::vector<std::string>{"a.yaml", "b.yaml"});
  CHECK(files.control_path == "/c");
  CHECK(parse({"run"}, {{"HAMBA_CONFIG", "x.yaml"}}).config_files ==
        std::vector<std::string>{"x.yaml"});
}

TEST_CASE("every option of the configuration, flag or variable, shows in debugconfig's YAML") {
  // A value other than the default for each; an option of the table not listed here fails too.
  std::map<std::string, std::string> samples = {{"--connect-timeout", "7s"},
                                                {"--idle-timeout", "7s"},
                                                {"--check-interval", "7s"},
                                                {"--resolve-interval", "7s"},
                                                {"--dns-hold", "7s"},
                                                {"--maxconn", "77"},
                                                {"--server-maxconn", "7"},
                                                {"--threads", "7"},
                                                {"--check", "redis"},
                                                {"--balance", "leastconn"},
                                                {"--retries", "7"},
                                                {"--grace", "7s"},
                                                {"--admin", "127.0.0.1:7777"},
                                                {"--send-proxy", "v2"},
                                                {"--accept-proxy", "true"},
                                                {"--accept-proxy-from", "10.0.0.0/8"},
                                                {"--allow", "10.0.0.0/8"},
                                                {"--deny", "10.9.0.0/16"},
                                                {"--allow-file", "/dev/null"},
                                                {"--deny-file", "/dev/null"},
                                                {"--per-source-maxconn", "7"},
                                                {"--per-source-rate", "7/1s"}};
  samples.insert({{"--tcp-keepalive", "7s,7s,7"},
                  {"--server-tcp-keepalive", "off"},
                  {"--tcp-user-timeout", "7s"},
                  {"--server-tcp-user-timeout", "7s"},
                  {"--docker", "/run/d.sock"}});
  samples.insert(
      {{"--tls-cert", "c.pem"}, {"--tls-key", "k.pem"}, {"--tls-handshake-timeout", "7s"}});
  // Options that are valid only with another one, given with it (by flag) in both runs.
  const std::map<std::string, std::string> companions = {{"--tls-cert", "--tls-key=other.key"},
                                                         {"--tls-key", "--tls-cert=other.pem"}};
  const std::string plain = config::to_yaml(parse({"debugconfig", "80", "a:1"}).config);
  for (const cli::OptionSpec& spec : cli::option_table()) {
    if (!spec.apply)
      continue;
    INFO(spec.flag);
    auto sample = samples.find(spec.flag);
    REQUIRE(sample != samples.end());
    std::string flag = std::string(spec.flag) + "=" + sample->second;
    auto companion = companions.find(spec.flag);
    std::vector<std::string> with_flag{"debugconfig", flag}, with_env{"debugconfig"};
    if (companion != companions.end()) {
      with_flag.push_back(companion->second);
      with_env.push_back(companion->second);
    }
    for (auto* argv : {&with_flag, &with_env}) {
      argv->push_back("80");
      argv->push_back("a:1");
    }
    std::string by_flag = config::to_yaml(parse(with_flag).config);
    CHECK(by_flag != plain);
    CHECK(config::to_yaml(parse(with_env, {{spec.env, sample->second}}).config) == by_flag);
  }
}

TEST_CASE("docker: --docker [SOCKET], HAMBA_DOCKER; alone it runs with no frontend") {
  auto alone = parse({"--docker"});
  CHECK(alone.action == cli::Action::run);
  CHECK(alone.config.frontends.empty());
  REQUIRE(alone.config.docker);
  CHECK(alone.config.docker->socket == "/var/run/docker.sock");
  auto path = parse({"--docker", "/run/d.sock", "80", "a:1"});
  CHECK(path.config.docker->socket == "/run/d.sock");
  CHECK(path.config.frontends.size() == 1);
  CHECK(parse({"--docker", "80", "a:1"}).config.docker->socket == "/var/run/docker.sock");
  CHECK(parse({"run"}, {{"HAMBA_DOCKER", "1"}}).config.docker);
  CHECK(parse({"run"}, {{"HAMBA_DOCKER", "/x.sock"}}).config.docker->socket == "/x.sock");
  CHECK(!parse({"80", "a:1"}, {{"HAMBA_DOCKER", "false"}}).config.docker);
  CHECK(!parse({"80", "a:1"}).config.docker);
  CHECK(error_of({"--docker=maybe", "80", "a:1"}).find("\"maybe\"") != std::string::npos);
}

TEST_CASE("threads: --threads, HAMBA_THREADS (the option wins), unset by default") {
  CHECK(!parse({"80", "a:1"}).config.threads);
  CHECK(parse({"--threads", "3", "80", "a:1"}).config.threads == 3);
  CHECK(parse({"80", "a:1"}, {{"HAMBA_THREADS", "2"}}).config.threads == 2);
  CHECK(parse({"--threads=4", "80", "a:1"}, {{"HAMBA_THREADS", "2"}}).config.threads == 4);
}

TEST_CASE("limits are unset by default: global from the fd limit, none per server") {
  auto cmd = parse({"80", "a:1"});
  CHECK(!cmd.config.maxconn);
  CHECK(!cmd.config.frontends.at(0).servers.at(0).maxconn);
}

TEST_CASE("bad input names the bad word") {
  CHECK(error_of({"0", "a:1"}).find("port 0") != std::string::npos);
  CHECK(error_of({"65536", "a:1"}).find("65536") != std::string::npos);
  CHECK(error_of({"http", "a:1"}).find("\"http\"") != std::string::npos);
  CHECK(error_of({"80", "redis"}).find("\"redis\" has no port") != std::string::npos);
  CHECK(error_of({"80", "a:1", "b"}).find("\"b\" has no port") != std::string::npos);
  CHECK(error_of({"80", ""}) ==
        "an empty word where a server should be, after \"80\" (write HOST:PORT or HOST PORT)");
  CHECK(error_of({"80", "a:1", ""}).find("after \"a:1\"") != std::string::npos);
  CHECK(error_of({"80", "a", "x"}).find("\"x\"") != std::string::npos);
  CHECK(error_of({"80", "a:0"}).find("a:0") != std::string::npos);
  CHECK(error_of({"80", "a:99999"}).find("99999") != std::string::npos);
  CHECK(error_of({"80", "a:b"}).find("\"b\"") != std::string::npos);
  CHECK(error_of({"80", ":1"}).find("\":1\"") != std::string::npos);
  CHECK(error_of({"80"}).find("no server") != std::string::npos);
  CHECK(error_of({"--foo", "80", "a:1"}).find("\"--foo\"") != std::string::npos);
  CHECK(error_of({"80", "a:1", "--maxconn"}).find("--maxconn") != std::string::npos);
  CHECK(error_of({"--maxconn", "lots", "80", "a:1"}).find("\"lots\"") != std::string::npos);
  CHECK(error_of({"--maxconn", "0", "80", "a:1"}).find("\"0\"") != std::string::npos);
  CHECK(error_of({"--threads", "0", "80", "a:1"}).find("--threads \"0\"") != std::string::npos);
  CHECK(error_of({"--threads", "abc", "80", "a:1"}).find("--threads \"abc\"") != std::string::npos);
  CHECK(error_of({"--threads", "257", "80", "a:1"}).find("\"257\"") != std::string::npos);
  CHECK(error_of({"80", "a:1"}, {{"HAMBA_THREADS", "-1"}}).find("HAMBA_THREADS \"-1\"") !=
        std::string::npos);
  CHECK(error_of({"--balance", "random", "80", "a:1"}).find("\"random\"") != std::string::npos);
  CHECK(error_of({"--idle-timeout", "5x", "80", "a:1"}).find("\"5x\"") != std::string::npos);
  CHECK(error_of({"80", "a:1"}, {{"HAMBA_MAXCONN", "x"}}).find("HAMBA_MAXCONN") !=
        std::string::npos);
  CHECK(error_of({"80", "::1:80"}).find("brackets") != std::string::npos);
  CHECK(error_of({"showconfig", "80"}).find("\"80\"") != std::string::npos);
  CHECK(error_of({"status", "80"}).find("status takes no argument") != std::string::npos);
  CHECK(error_of({"reconfigure"}).find("needs a configuration") != std::string::npos);
  CHECK(error_of({"drain"}).find("HOST:PORT") != std::string::npos);
  CHECK(error_of({"drain", "80"}).find("\"80\"") != std::string::npos);
  CHECK(error_of({"80", "a:1", "a:1"}).find("twice") != std::string::npos);
  CHECK(error_of({"localhost:80", "a:1"}).find("\"localhost\"") != std::string::npos);
}
