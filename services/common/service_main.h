// The frame every DockerCoins main() shares: run the service's body on the default loop, turn
// a UsageError into one line on stderr and exit status 2, any other error into a log line and
// status 1, and let libuv free the handles the body's objects closed.
//
//     int main(int argc, char** argv) {
//       ... flags.parse_or_exit(argc, argv);
//       return services::run_service([&](uv_loop_t* loop) {
//         ... set up servers and clients ...
//         uv_run(loop, UV_RUN_DEFAULT);
//       });
//     }
#pragma once

#include <functional>
#include <uv.h>

namespace services {

int run_service(const std::function<void(uv_loop_t*)>& body);

} // namespace services
