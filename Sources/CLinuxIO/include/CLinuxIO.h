#ifndef CLINUXIO_H
#define CLINUXIO_H

// epoll and eventfd for `IOReactor`: Glibc's Swift module does not export these headers.
#include <sys/epoll.h>
#include <sys/eventfd.h>

/// Names the calling thread (at most 15 bytes are kept), for `ps -L` and debuggers.
void labvisor_set_thread_name(const char *name);

#endif
