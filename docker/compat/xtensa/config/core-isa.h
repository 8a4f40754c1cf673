/* nodemcu-pipeline: newlib toolchains ship the LX106 core configuration as
 * <xtensa/config/core-isa.h>; picolibc ships the same file as <machine/core-isa.h>. */
#include <machine/core-isa.h>
