// Stand-ins for the run-time features (see extensions.h), until the run-time work replaces this
// file: only the command line is supported, and the client commands say so.
#include "app/extensions.h"

#include <cstdio>

namespace hamba::app {

config::Config load_config(const cli::Command& command) {
  if (!command.config_files.empty())
    throw config::ConfigError("--config is not supported by this build");
  return command.config;
}

std::unique_ptr<Extension> start_extensions(RunContext&) {
  return nullptr;
}

int run_client_command(const cli::Command&) {
  std::fputs("hamba: this build has no control socket (reconfigure, showconfig, enable, disable, "
             "drain)\n",
             stderr);
  return 1;
}

} // namespace hamba::app
