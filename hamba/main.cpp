// hamba's entry point: the command line -> one action -> its exit status.
#include "app/control_plane.h"
#include "app/run.h"
#include "cli/command.h"

#include <csignal>
#include <cstdio>
#include <exception>

using namespace hamba;

int main(int argc, char** argv) {
  // A peer that goes away must not kill the process: writes then fail with EPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  cli::Command command;
  try {
    command = cli::parse(std::vector<std::string>(argv + 1, argv + argc),
                         cli::environment_from_process());
  } catch (const cli::UsageError& e) {
    std::fprintf(stderr, "hamba: %s\n", e.what());
    return 2;
  }
  try {
    switch (command.action) {
    case cli::Action::usage:
      std::fputs(cli::usage_text().c_str(), stderr);
      return 2;
    case cli::Action::help:
      std::fputs(cli::usage_text().c_str(), stdout);
      return 0;
    case cli::Action::version:
      std::printf("hamba %s\n", HAMBA_VERSION);
      return 0;
    case cli::Action::debugconfig:
      std::fputs(config::to_yaml(app::load_config(command)).c_str(), stdout);
      return 0;
    case cli::Action::run:
      return app::run(command);
    case cli::Action::reconfigure:
    case cli::Action::showconfig:
    case cli::Action::status:
    case cli::Action::enable:
    case cli::Action::disable:
    case cli::Action::drain:
    case cli::Action::weight:
      return app::run_client_command(command);
    }
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "hamba: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hamba: %s\n", e.what());
    return 1;
  }
  return 0;
}
