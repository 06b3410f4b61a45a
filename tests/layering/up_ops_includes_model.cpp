// Compiled against spectral_ops: model/ is a higher layer, so this must not compile.
#include "model/model.h"
