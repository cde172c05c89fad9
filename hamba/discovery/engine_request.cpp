// EngineRequest: connect a uv_pipe_t to the daemon's socket, write one GET, parse the answer
// (see engine_request.h).
#include "discovery/engine_request.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace hamba::discovery {

namespace {

// The daemon's {"message": "..."} of an error answer, or the body as it is.
std::string daemon_message(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string())
    return j["message"].get<std::string>();
  return body.substr(0, 200);
}

} // namespace

EngineRequest::EngineRequest(uv_loop_t* loop, std::string socket_path, std::string target,
                             Stream stream, OnDone on_done, uint64_t timeout_ms)
    : loop_(loop), socket_path_(std::move(socket_path)), target_(std::move(target)),
      stream_(std::move(stream)), on_done_(std::move(on_done)),
      parser_(stream_.on_line ? kMaxLine : kMaxBody) {
  timer_.init(loop_, this);
  parser_.expect(false);
  if (stream_.on_line)
    parser_.set_body_sink([this](std::string_view bytes) { on_body(bytes); });
  int rc = pipe_.init([&](uv_pipe_t* p) { return uv_pipe_init(loop_, p, 0); });
  if (rc == 0) {
    pipe_.set_data(this);
    // uv_pipe_connect reports every failure through its callback (libuv 1.44).
    rc = connect_.start<&EngineRequest::on_connected>(this, [&](uv_connect_t* req, auto done) {
      uv_pipe_connect(req, pipe_.get(), socket_path_.c_str(), done);
      return 0;
    });
  }
  if (rc < 0) {
    start_error_ = "connecting to " + socket_path_;
    start_rc_ = rc;
    timer_.start<&EngineRequest::on_timeout>(0);
    return;
  }
  timer_.start<&EngineRequest::on_timeout>(timeout_ms);
}

EngineRequest::~EngineRequest() {
  cancel();
  timer_.close();
}

void EngineRequest::cancel() {
  on_done_ = nullptr;
  stream_.on_open = nullptr;
  connect_.detach();
  write_.detach();
  pipe_.close();
  timer_.stop();
}

void EngineRequest::on_timeout() {
  if (!start_error_.empty())
    fail(start_error_, start_rc_);
  else
    fail(opened_ ? "waiting for the answer of " + socket_path_ : "connecting to " + socket_path_,
         UV_ETIMEDOUT);
}

void EngineRequest::on_connected(int status) {
  if (status < 0) {
    fail("connecting to " + socket_path_, status);
    return;
  }
  int rc = write_.start<&EngineRequest::on_written>(
      this,
      [&](uv_write_t* req, std::string& bytes, auto done) {
        uv_buf_t out = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
        return uv_write(req, pipe_.stream(), &out, 1, done);
      },
      [&](std::string& bytes) {
        // HTTP/1.1 for the chunked stream; "docker" is what the CLI sends as the host of a
        // unix socket.
        bytes = fmt::format("GET {} HTTP/1.1\r\nHost: docker\r\nUser-Agent: hamba\r\n"
                            "Connection: close\r\n\r\n",
                            target_);
      });
  if (rc < 0) {
    fail("writing to " + socket_path_, rc);
    return;
  }
  rc = uv_read_start(
      pipe_.stream(),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* self = uvx::Handle<uv_pipe_t>::owner<EngineRequest>(h);
        *buf = uv_buf_init(self->read_buffer_, sizeof self->read_buffer_);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        if (auto* self = uvx::Handle<uv_pipe_t>::owner<EngineRequest>(s))
          self->on_read(nread, buf->base);
      });
  if (rc < 0)
    fail("reading from " + socket_path_, rc);
}

void EngineRequest::on_written(int status) {
  if (status < 0)
    fail("writing to " + socket_path_, status);
}

void EngineRequest::on_body(std::string_view bytes) {
  if (failed_line_)
    return;
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      if (line_.size() + bytes.size() > kMaxLine) {
        failed_line_ = true; // reported after the parser returns
        return;
      }
      line_.append(bytes);
      return;
    }
    line_.append(bytes.substr(0, nl));
    bytes.remove_prefix(nl + 1);
    std::string line = std::move(line_);
    line_.clear();
    if (!line.empty() && stream_.on_line)
      stream_.on_line(line);
  }
}

void EngineRequest::on_read(ssize_t nread, const char* data) {
  if (nread == 0)
    return;
  if (nread < 0) {
    if (nread == UV_EOF)
      parser_.feed_eof();
    if (parser_.state() == http::ResponseParser::State::complete && !stream_.on_line) {
      http::Answer& a = parser_.answer();
      finish({{}, a.status, std::move(a.body)});
      return;
    }
    fail(nread == UV_EOF ? "connection closed by " + socket_path_ : "reading from " + socket_path_,
         nread == UV_EOF ? UV_ECONNRESET : static_cast<int>(nread));
    return;
  }
  // A stream's lines go to on_line from inside feed(), which may destroy this object's owner's
  // interest (not this object: the owner destroys it only from on_done or a later turn).
  parser_.feed(data, static_cast<size_t>(nread));
  if (failed_line_) {
    fail(fmt::format("an event line over {} bytes from {}", kMaxLine, socket_path_), UV_E2BIG);
    return;
  }
  http::Answer& a = parser_.answer();
  if (!on_done_)
    return; // cancelled from a line's callback
  if (!opened_ && a.status >= 200) {
    opened_ = true;
    if (stream_.on_line && a.status < 300) {
      timer_.stop(); // the stream's body has no deadline
      if (stream_.on_open)
        stream_.on_open();
    }
  }
  if (parser_.state() == http::ResponseParser::State::failed) {
    fail(fmt::format("bad answer from {}: {}", socket_path_, parser_.error()), UV_EPROTO);
    return;
  }
  if (parser_.state() == http::ResponseParser::State::complete) {
    if (stream_.on_line && a.status >= 200 && a.status < 300) {
      fail("the event stream of " + socket_path_ + " ended", UV_EOF);
      return;
    }
    finish({{}, a.status, std::move(a.body)});
  }
}

void EngineRequest::fail(std::string what, int rc) {
  finish({what + ": " + uvx::error_text(rc), 0, {}});
}

void EngineRequest::finish(Result result) {
  timer_.stop();
  connect_.detach();
  write_.detach();
  pipe_.close();
  if (result.error.empty() && (result.status < 200 || result.status >= 300)) {
    result.error = fmt::format("{} answered {} to GET {}: {}", socket_path_, result.status, target_,
                               daemon_message(result.body));
  }
  OnDone done = std::move(on_done_);
  on_done_ = nullptr;
  if (done)
    done(std::move(result));
}

} // namespace hamba::discovery
