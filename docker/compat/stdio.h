/* nodemcu-pipeline: NodeMCU was written against newlib, whose <stdio.h> also declares ssize_t and
 * leaves BUFSIZ to NodeMCU's sdk-overrides/include/stdio.h. picolibc's <stdio.h> does neither, so this
 * wrapper (on the include path through -isystem, after NodeMCU's own -I directories) adds what newlib
 * gave and drops picolibc's BUFSIZ. Host compiles (luac.cross) see the same flags, hence __xtensa__.
 * The user's tree is never edited. */
#include_next <stdio.h>
#ifdef __xtensa__
#include <sys/types.h>
#undef BUFSIZ
#endif
