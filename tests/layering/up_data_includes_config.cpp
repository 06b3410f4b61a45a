// Compiled against spectral_data: config/ is a sibling layer data does not link, so this must not compile.
#include "config/config.h"
