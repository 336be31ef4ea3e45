// Small Status helpers that later Abseil releases ship themselves. Debian 12's
// Abseil (20220623) has none of them; delete this file on upgrade.
#ifndef VERNIER_COMMON_STATUS_MACROS_H_
#define VERNIER_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    const ::absl::Status vernier_status_ = (expr);     \
    if (!vernier_status_.ok()) return vernier_status_; \
  } while (0)

#define VERNIER_STATUS_CONCAT_INNER_(x, y) x##y
#define VERNIER_STATUS_CONCAT_(x, y) VERNIER_STATUS_CONCAT_INNER_(x, y)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr());` binds the value or returns the
// error status from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  ASSIGN_OR_RETURN_IMPL_(VERNIER_STATUS_CONCAT_(vernier_statusor_, __LINE__), lhs, rexpr)

#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                           \
  if (!statusor.ok()) return statusor.status();      \
  lhs = std::move(statusor).value()

#endif  // VERNIER_COMMON_STATUS_MACROS_H_
