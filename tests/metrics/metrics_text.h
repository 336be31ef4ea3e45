// Test helpers for Prometheus metrics: fetching /metrics over plain HTTP, and
// reading one sample out of the text format. Header-only.
#ifndef VERNIER_TESTS_METRICS_METRICS_TEXT_H_
#define VERNIER_TESTS_METRICS_METRICS_TEXT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace vernier::testing {

// The body of GET http://127.0.0.1:`port``path`, or nullopt when the server
// cannot be reached or does not answer 200 within 10 s. HTTP/1.0, so the
// server closes the connection after the answer.
inline std::optional<std::string> HttpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if (::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) response.append(buffer, n);
    }
  }
  ::close(fd);
  const size_t body = response.find("\r\n\r\n");
  const bool ok =
      absl::StartsWith(response, "HTTP/1.1 200") || absl::StartsWith(response, "HTTP/1.0 200");
  if (!ok || body == std::string::npos) return std::nullopt;
  return response.substr(body + 4);
}

// The value of the sample `name` whose labels are exactly `labels` in the
// Prometheus text exposition `text`, or nullopt when there is none. Label
// values must not contain '"', ',' or '}' (ours do not).
inline std::optional<double> Sample(absl::string_view text, absl::string_view name,
                                    const std::map<std::string, std::string>& labels = {}) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line.front() == '#') continue;
    const size_t value_at = line.rfind(' ');
    if (value_at == absl::string_view::npos) continue;
    absl::string_view series = line.substr(0, value_at);
    std::map<std::string, std::string> found;
    const size_t brace = series.find('{');
    if (series.substr(0, brace) != name) continue;
    if (brace != absl::string_view::npos) {
      absl::string_view inside = series.substr(brace + 1);
      absl::ConsumeSuffix(&inside, "}");
      for (absl::string_view pair : absl::StrSplit(inside, ',', absl::SkipEmpty())) {
        std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
        found[kv.first] = std::string(absl::StripSuffix(absl::StripPrefix(kv.second, "\""), "\""));
      }
    }
    double value = 0;
    if (found == labels && absl::SimpleAtod(line.substr(value_at + 1), &value)) return value;
  }
  return std::nullopt;
}

}  // namespace vernier::testing

#endif  // VERNIER_TESTS_METRICS_METRICS_TEXT_H_
