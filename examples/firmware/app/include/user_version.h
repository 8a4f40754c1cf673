#ifndef USER_VERSION_H
#define USER_VERSION_H

/* Same shape as NodeMCU 3.x's banner so layout detection treats this firmware as 3.0-master_20200910. */
#define NODE_VERSION_MAJOR 3
#define NODE_VERSION_MINOR 0
#define NODE_VERSION_REVISION 0
#define NODE_VERSION_INTERNAL 0
#define NODE_VERSION "NodeMCU 3.0.0.0 built with nodemcu-pipeline"
#define BUILDINFO_BRANCH "master"
#define BUILDINFO_RELEASE "3.0-master_20200910"
#define BUILDINFO_RELEASE_DTS "202009090323"
#define LUA_RELEASE "Lua 5.1.4"
#define SDK_VERSION "3.0.1-dev(fce080e)"

#ifdef LUA_NUMBER_INTEGRAL
#define BUILDINFO_BUILD_TYPE "integer"
#else
#define BUILDINFO_BUILD_TYPE "float"
#endif

#endif
