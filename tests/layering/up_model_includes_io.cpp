// Compiled against spectral_model: io/ is a higher layer, so this must not compile.
#include "io/checkpoint.h"
