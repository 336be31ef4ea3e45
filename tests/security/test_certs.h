// Test certificates made with the openssl command line (no fixtures in the
// repository): in `dir`, a CA (ca.pem/ca.key), a server certificate for
// 127.0.0.1 and localhost (server.pem/server.key), a client certificate
// (client.pem/client.key), and a second CA (other-ca) with a client
// certificate of its own (stranger.pem/stranger.key) that the first CA never
// signed. P-256 keys: fast to make.
#ifndef VERNIER_TESTS_SECURITY_TEST_CERTS_H_
#define VERNIER_TESTS_SECURITY_TEST_CERTS_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace vernier::testing {

// Runs `command` in `dir` (stderr appended to dir/openssl.log); true on exit 0.
inline bool RunIn(const std::filesystem::path& dir, const std::string& command) {
  const std::string line = "cd '" + dir.string() + "' && " + command + " 2>>openssl.log";
  return std::system(line.c_str()) == 0;
}

inline bool MakeTestCa(const std::filesystem::path& dir, const std::string& name) {
  return RunIn(dir,
               "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
               "-keyout " +
                   name + ".key -out " + name + ".pem -days 2 -subj /CN=" + name);
}

inline bool MakeTestCert(const std::filesystem::path& dir, const std::string& name,
                         const std::string& ca, const std::string& extensions) {
  std::ofstream(dir / (name + ".ext")) << extensions << "\n";
  return RunIn(dir,
               "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
               "-keyout " +
                   name + ".key -out " + name + ".csr -subj /CN=" + name) &&
         RunIn(dir, "openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca +
                        ".key -CAcreateserial -days 2 -out " + name + ".pem -extfile " + name +
                        ".ext");
}

// Makes every file listed above; on failure `log` gets openssl's messages.
inline bool MakeTestCertificates(const std::filesystem::path& dir, std::string* log) {
  const bool ok = MakeTestCa(dir, "ca") && MakeTestCa(dir, "other-ca") &&
                  MakeTestCert(dir, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost") &&
                  MakeTestCert(dir, "client", "ca", "extendedKeyUsage=clientAuth") &&
                  MakeTestCert(dir, "stranger", "other-ca", "extendedKeyUsage=clientAuth");
  if (!ok) {
    std::ifstream file(dir / "openssl.log");
    *log = std::string(std::istreambuf_iterator<char>(file), {});
  }
  return ok;
}

}  // namespace vernier::testing

#endif  // VERNIER_TESTS_SECURITY_TEST_CERTS_H_
