// Unit tests for control/config_watcher.cpp: a real loop, a real file, SIGHUP, and a broken
// file that is reported without being applied.
#include "config/config.h"
#include "control/config_watcher.h"

#include <csignal>
#include <doctest/doctest.h>
#include <fstream>
#include <unistd.h>

using namespace hamba;
using namespace std::chrono_literals;

namespace {

void write_file(const std::string& path, const std::string& text) {
  // Written next to it and renamed over it, the way editors and config management do.
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  REQUIRE(std::rename(tmp.c_str(), path.c_str()) == 0);
}

std::string yaml_for_port(int port) {
  return "frontends:\n  - bind: '127.0.0.1:" + std::to_string(port) + "'\n    servers: [a:1]\n";
}

// Runs the loop until `done()` or 10 s have passed.
void run_until(uv_loop_t* loop, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    uv_run(loop, UV_RUN_ONCE);
  }
}

} // namespace

TEST_CASE("config watcher: file changes and SIGHUP reload, broken files are reported") {
  char dir[] = "/tmp/hamba-watch-test-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  std::string path = std::string(dir) + "/hamba.yaml";
  write_file(path, yaml_for_port(1001));

  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  uvx::Handle<uv_timer_t> tick; // keeps UV_RUN_ONCE from blocking forever
  REQUIRE(tick.init([&](uv_timer_t* t) { return uv_timer_init(&loop, t); }) == 0);
  uv_timer_start(
      tick.get(), [](uv_timer_t*) {}, 50, 50);

  std::vector<config::Config> loaded;
  std::vector<std::string> failures;
  int startup_checks = 0;
  {
    control::ConfigWatcher watcher(
        &loop, {path}, [path] { return config::load_yaml_file(path); },
        [&](config::Config c, bool startup_check) {
          if (startup_check)
            ++startup_checks;
          else
            loaded.push_back(std::move(c));
        },
        [&](const std::string& e) { failures.push_back(e); }, 50ms);

    // Let the poller take its first stat before the change, then change the file.
    run_until(&loop, [start = std::chrono::steady_clock::now()] {
      return std::chrono::steady_clock::now() - start > 200ms;
    });
    CHECK(loaded.empty());
    run_until(&loop, [&] { return startup_checks == 1; });
    CHECK(startup_checks == 1);
    write_file(path, yaml_for_port(1002));
    run_until(&loop, [&] { return !loaded.empty(); });
    REQUIRE(loaded.size() == 1);
    CHECK(loaded[0].frontends.at(0).bind.port == 1002);

    write_file(path, yaml_for_port(1003) + "    bogus: 1\n");
    run_until(&loop, [&] { return !failures.empty(); });
    REQUIRE(failures.size() == 1);
    CHECK(failures[0].find(path + ":4:5:") != std::string::npos);
    CHECK(failures[0].find("'bogus'") != std::string::npos);
    CHECK(loaded.size() == 1);

    // SIGHUP reloads even without a change (after the file is fixed by hand, say).
    std::ofstream(path) << yaml_for_port(1004);
    raise(SIGHUP);
    run_until(&loop, [&] { return loaded.size() == 2; });
    REQUIRE(loaded.size() == 2);
    CHECK(loaded[1].frontends.at(0).bind.port == 1004);
  }
  tick.close();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  std::remove(path.c_str());
  rmdir(dir);
}
