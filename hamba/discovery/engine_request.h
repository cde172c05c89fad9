// One GET to the Docker Engine API over its unix socket, on libuv: the whole answer (the
// container list), or an answer whose body never ends, streamed line by line (the event
// stream, one JSON object per line in a chunked body).
//
//     EngineRequest list(loop, "/var/run/docker.sock", "/containers/json", {},
//                        [](EngineRequest::Result r) { ... r.error, r.status, r.body ... });
//     EngineRequest events(loop, socket, "/events?filters=...", {
//         .on_open = [] { ... the daemon answered 200: events flow from now on ... },
//         .on_line = [](std::string_view line) { ... }},
//         [](EngineRequest::Result r) { ... the stream ended: r.error says how ... });
//
// The request starts at construction. `on_done` runs exactly once, on the loop, never from
// inside the constructor (a failure to start is reported from a timer) and never after the
// object is destroyed. The answer is parsed by base/http_response_parser.h.
#pragma once

#include "base/http_response_parser.h"
#include "base/uv_handle.h"
#include "base/uv_request.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <uv.h>

namespace hamba::discovery {

class EngineRequest {
public:
  struct Result {
    std::string error; // "" on an answer (any status)
    int status = 0;
    std::string body; // the whole body (not with on_line); the daemon's message on an error
  };
  struct Stream {
    std::function<void()> on_open;                 // the headers of a 2xx answer are in
    std::function<void(std::string_view)> on_line; // set: the body is read line by line
  };
  using OnDone = std::function<void(Result)>;

  // Lines longer than this end the stream with an error (an event is a few hundred bytes).
  static constexpr size_t kMaxLine = 1 << 20;
  static constexpr size_t kMaxBody = 64 << 20; // a whole answer: thousands of containers

  // `timeout_ms` bounds the connect and, for a whole answer, the answer; a stream's body has
  // none once its headers are in.
  EngineRequest(uv_loop_t* loop, std::string socket_path, std::string target, Stream stream,
                OnDone on_done, uint64_t timeout_ms = 10000);
  ~EngineRequest();
  EngineRequest(const EngineRequest&) = delete;
  // Ends the request without calling back; the object may be freed later (from inside one of
  // its own callbacks it must not be: its owner frees it on a later turn).
  void cancel();
  EngineRequest& operator=(const EngineRequest&) = delete;

private:
  void on_connected(int status);
  void on_written(int status);
  void on_read(ssize_t nread, const char* data);
  void on_timeout();
  void on_body(std::string_view bytes);
  void fail(std::string what, int rc);
  void finish(Result result);

  uv_loop_t* loop_;
  std::string socket_path_;
  std::string target_;
  Stream stream_;
  OnDone on_done_;
  uvx::Handle<uv_pipe_t> pipe_;
  uvx::Requests<uv_connect_t> connect_;
  uvx::Requests<uv_write_t, std::string> write_;
  uvx::Timer timer_;
  http::ResponseParser parser_;
  bool opened_ = false;
  bool failed_line_ = false;
  std::string line_; // a stream's line not yet ended
  std::string start_error_;
  int start_rc_ = 0;
  char read_buffer_[16 * 1024];
};

} // namespace hamba::discovery
