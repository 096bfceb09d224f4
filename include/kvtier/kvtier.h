// Umbrella header: the whole C++ API.
#pragma once

#include "kvtier/engine_hashes.h"
#include "kvtier/engine_keys.h"
#include "kvtier/hash.h"
#include "kvtier/layout.h"
#include "kvtier/options.h"
#include "kvtier/stats.h"
#include "kvtier/split.h"
#include "kvtier/status.h"
#include "kvtier/store.h"
#include "kvtier/transfer.h"
