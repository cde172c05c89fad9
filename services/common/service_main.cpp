// run_service: the shared frame of the services' main() (see service_main.h).
#include "common/service_main.h"

#include "common/flags.h"
#include "common/log.h"
#include "common/stop_signals.h"

#include <fmt/format.h>

namespace services {

int run_service(const std::function<void(uv_loop_t*)>& body) {
  uv_loop_t* loop = uv_default_loop();
  int status = 0;
  try {
    body(loop); // its objects are destroyed (their handles closed) when it returns or throws
  } catch (const UsageError& e) {
    fmt::print(stderr, "{}\n", e.what());
    status = 2;
  } catch (const std::exception& e) {
    log::error("{}", e.what());
    status = 1;
  }
  finish_loop(loop);
  return status;
}

} // namespace services
