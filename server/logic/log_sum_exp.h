// log(sum_i exp(v_i)), the normaliser of the mixtures TPE scores candidates
// with, computed the way a suggestion can afford hundreds of times.
//
// Thread-safety: pure functions.
#ifndef VERNIER_SERVER_LOGIC_LOG_SUM_EXP_H_
#define VERNIER_SERVER_LOGIC_LOG_SUM_EXP_H_

#include <vector>

#include "absl/types/span.h"

namespace vernier {

// e^x for x in [-60, 0], within 2 units in the last place of std::exp, and
// with no branches, so that a loop over it vectorises. Outside that range the
// result is unspecified (no NaN check, no underflow to subnormals).
double ExpOfNonPositive(double x);

// log(sum_i exp(values[i])). Terms below e^-40 times the largest are left out:
// the largest adds exactly 1 to the sum, so each of them is lost in its
// rounding, and together they move the result by less than n * 4e-18 (1e-15
// for 500 terms). -inf when `values` is empty or all -inf; NaN when any value
// is NaN; +inf when any is +inf.
//
// `scratch` is working memory, reused across calls to spare an allocation.
double LogSumExp(absl::Span<const double> values, std::vector<double>& scratch);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_LOG_SUM_EXP_H_
