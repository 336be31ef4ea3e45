// What a refit trial of the built-in trainer trains: the epochs its source
// trial's model ended with, so that the refit model sees as many passes
// over the (larger) training data as the model that was judged best.
#ifndef VERNIER_SERVER_LOGIC_REFIT_H_
#define VERNIER_SERVER_LOGIC_REFIT_H_

#include <cstdint>
#include <optional>

#include "nlohmann/json.hpp"
#include "server/logic/types.h"

namespace vernier {

// The epochs a refit of `source` (a trial of the built-in trainer that ran
// with `settings` overlaid with its params) trains: with early stopping
// (`patience` > 0) the first epoch with the best `early_stop_metric`
// (default val_loss; loss, mse, rmse and mae are lower-is-better) among the
// source's reports, whose weights it restored; otherwise its last reported
// step. nullopt when the source reported no step >= 1.
std::optional<int64_t> RefitEpochs(const TrialRecord& source, const nlohmann::json& settings);

}  // namespace vernier

#endif  // VERNIER_SERVER_LOGIC_REFIT_H_
