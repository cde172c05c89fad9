// Fuzz target for the server side of the TLS transport (net/tls_transport.h): a client's bytes,
// in segments whose size the first byte picks, then its FIN. Whatever they are, the transport
// reports at most one end of the handshake (established, or an error with a reason), writes
// only while the session lives, and closes cleanly. The certificate is made once
// (tests/unit/temp_cert.h).
#include "../unit/temp_cert.h"
#include "fuzz_check.h"
#include "net/tls_context.h"
#include "net/tls_transport.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <openssl/err.h>
#include <string>

using namespace hamba::net;
using fuzz::check;

namespace {

class Lower final : public Transport {
public:
  int start_reading() override { return 0; }
  int read_into(char*, size_t) override { return 0; }
  void stop_reading() override {}
  ssize_t read_now(char*, size_t) override { return UV_EAGAIN; }
  int write(const uv_buf_t* bufs, unsigned count) override {
    for (unsigned i = 0; i < count; ++i)
      written += bufs[i].len;
    return 0;
  }
  size_t queued() const override { return 0; }
  int shutdown_write() override { return 1; }
  void reset() override {}
  void close() override {}
  void sends(const uint8_t* p, size_t n) {
    handler_->on_read(*this, reinterpret_cast<const char*>(p), n);
  }
  void closes() { handler_->on_eof(*this); }
  size_t written = 0;
};

struct Events final : TransportHandler {
  void on_read(Transport&, const char*, size_t len) override { plain += len; }
  void on_eof(Transport&) override { ++eofs; }
  void on_error(Transport&, int) override { ++errors; }
  void on_drained(Transport&) override {}
  void on_shut(Transport&) override {}
  void on_connected(Transport&, int) override { ++established; }
  size_t plain = 0;
  int eofs = 0, errors = 0, established = 0;
};

std::shared_ptr<const TlsServerContext> make_context() {
  hamba::test::TempCert cert; // its files go when it does: the context holds what it read
  return TlsServerContext::build(
      {.certs = {{cert.cert, cert.key_path}}, .alpn = {"h2", "http/1.1"}});
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::shared_ptr<const TlsServerContext> context = make_context();
  static uv_loop_t* loop = [] {
    static uv_loop_t l;
    uv_loop_init(&l);
    return &l;
  }();
  if (size == 0)
    return 0;
  const size_t segment = data[0] % 64 + 1;
  ++data;
  --size;
  Lower lower;
  Events events;
  {
    TlsTransport tls(lower, context, loop);
    tls.set_handler(&events);
    check(tls.start_handshake() == 0);
    check(tls.start_reading() == 0);
    for (size_t at = 0; at < size && events.errors == 0; at += segment)
      lower.sends(data + at, std::min(segment, size - at));
    if (events.errors == 0)
      lower.closes();
    check(events.established <= 1);
    check(events.errors <= 1);
    check(events.errors == 0 || events.eofs == 0);
    if (events.errors > 0 && !tls.established())
      check(tls.failure() != TlsFailure::none && tls.failure_text()[0] != '\0');
    tls.close();
  }
  uv_run(loop, UV_RUN_NOWAIT); // the closed deferred-delivery timer, if one was made
  ERR_clear_error();
  return 0;
}
