// Compiled against spectral_train: cli/ is a higher layer, so this must not compile.
#include "cli/commands.h"
