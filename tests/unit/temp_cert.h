// A self-signed certificate in two temporary PEM files, for the TLS unit tests
// (tls_fixture.h) and fuzz targets (tests/fuzz/fuzz_tls_*.cpp). No test framework here.
#pragma once

#include <cstdio>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string>
#include <unistd.h>

namespace hamba::test {

// A self-signed ECDSA certificate for a.test in two temporary PEM files.
struct TempCert {
  TempCert() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("a.test"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    X509_EXTENSION* san =
        X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:a.test,DNS:*.w.test");
    X509_add_ext(x, san, -1);
    X509_EXTENSION_free(san);
    X509_sign(x, key, EVP_sha256());
    char c[] = "/tmp/hamba-tls-certXXXXXX", k[] = "/tmp/hamba-tls-keyXXXXXX";
    ::close(mkstemp(c));
    ::close(mkstemp(k));
    cert = c;
    key_path = k;
    FILE* f = std::fopen(c, "w");
    PEM_write_X509(f, x);
    std::fclose(f);
    f = std::fopen(k, "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
  }
  ~TempCert() {
    ::unlink(cert.c_str());
    ::unlink(key_path.c_str());
  }
  std::string cert, key_path;
};

} // namespace hamba::test
