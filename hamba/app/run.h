// `hamba [run] ...`: serve until SIGTERM or SIGINT, then stop gracefully. Returns the exit
// status (0 after a graceful stop, 1 when the configuration cannot be served).
#pragma once

#include "cli/command.h"

namespace hamba::app {

int run(const cli::Command& command);

} // namespace hamba::app
