// Unit tests for app::load_config (app/control_plane.cpp): the configuration a command line
// means when it names --config files, with command-line frontends and options on top.
#include "app/control_plane.h"
#include "cli/command.h"

#include <cstdio>
#include <doctest/doctest.h>
#include <fstream>
#include <unistd.h>

using namespace hamba;
using namespace std::chrono_literals;

namespace {

// A temporary YAML file, removed when the test ends.
struct TempYaml {
  std::string path;
  explicit TempYaml(const std::string& text) {
    char tmpl[] = "/tmp/hamba-load-config-XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    close(fd);
    path = tmpl;
    std::ofstream(path) << text;
  }
  ~TempYaml() { std::remove(path.c_str()); }
};

cli::Command parse(std::vector<std::string> args, cli::Environment env = {}) {
  return cli::parse(std::move(args), env);
}

} // namespace

TEST_CASE("load_config: without --config, the words are the configuration") {
  cli::Command c = parse({"80", "a:1"});
  CHECK(app::load_config(c) == c.config);
}

TEST_CASE("load_config: files side by side, globals from the first, options on top") {
  TempYaml one("maxconn: 100\ngrace: 1s\nfrontends:\n  - bind: ':8001'\n    servers: [a:1]\n");
  TempYaml two("maxconn: 999\nfrontends:\n  - bind: ':8002'\n    connect_timeout: 9s\n"
               "    servers: [b:1]\n");
  cli::Command c =
      parse({"--config", one.path, "--config", two.path, "--connect-timeout", "2s", "8003", "c:1"});
  config::Config cfg = app::load_config(c);
  REQUIRE(cfg.frontends.size() == 3);
  CHECK(cfg.maxconn == 100);
  CHECK(cfg.grace == 1s);
  CHECK(cfg.frontends[0].bind.port == 8001);
  CHECK(cfg.frontends[1].bind.port == 8002);
  CHECK(cfg.frontends[2].bind.port == 8003);
  for (const auto& f : cfg.frontends)
    CHECK(f.connect_timeout == 2s); // the command line wins over the file

  cli::Command env = parse({"--config", one.path}, {{"ADMIN", "127.0.0.1:8404"}});
  CHECK(app::load_config(env).admin == "127.0.0.1:8404");
}

TEST_CASE("load_config: conflicts across files and bad files are ConfigErrors with a place") {
  TempYaml one("frontends:\n  - bind: ':8001'\n    servers: [a:1]\n");
  TempYaml same("frontends:\n  - bind: ':8001'\n    servers: [b:1]\n");
  CHECK_THROWS_AS(app::load_config(parse({"--config", one.path, "--config", same.path})),
                  config::ConfigError);
  TempYaml bad("frontends:\n  - bind: ':8001'\n    servers: [a:1]\n    colour: red\n");
  CHECK_THROWS_WITH_AS(app::load_config(parse({"--config", bad.path})),
                       doctest::Contains((bad.path + ":4:5:").c_str()), config::ConfigError);
}
