// Compiled against spectral_model: the layers below it are reachable.
#include "config/config.h"
#include "ops/gelu.h"
#include "util/errors.h"
