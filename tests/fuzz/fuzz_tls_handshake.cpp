// Fuzz target for the server side of the TLS transport (net/tls_transport.h): a client's bytes,
// in segments whose size the first byte picks, then its FIN. Whatever they are, the transport
// reports at most one end of the handshake (established, or an error with a reason), writes
// only while the session lives, and closes cleanly. The certificate is made once, in memory,
// and written to temporary files for TlsServerContext.
#include "fuzz_check.h"
#include "net/tls_context.h"
#include "net/tls_transport.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string>
#include <unistd.h>

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
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("a.test"), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_sign(x, key, EVP_sha256());
  char c[] = "/tmp/fuzz-tls-certXXXXXX", k[] = "/tmp/fuzz-tls-keyXXXXXX";
  ::close(mkstemp(c));
  ::close(mkstemp(k));
  FILE* f = std::fopen(c, "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(k, "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
  auto context = TlsServerContext::build({.certs = {{c, k}}, .alpn = {"h2", "http/1.1"}});
  ::unlink(c);
  ::unlink(k);
  return context;
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
