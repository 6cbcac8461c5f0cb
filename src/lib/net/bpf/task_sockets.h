/* task_sockets.h — what task_sockets.bpf.c and procmap_bpf.c share: the record the program writes
 * with bpf_seq_write() and user space reads from the iterator fd, and the names and sizes of the
 * maps user space fills to filter by inode. Used on both sides, so it uses only C types whose
 * sizes agree there (no libc, no kernel headers). */
#ifndef PORTREG_NET_BPF_TASK_SOCKETS_H
#define PORTREG_NET_BPF_TASK_SOCKETS_H

/* A socket file: pid (thread-group id, as seen from the reader's pid namespace), fd, inode.
 * The last record of a complete pass is the summary: fd == TASK_SOCKETS_SUMMARY_FD, pid = the
 * processes that had files, inode = every file descriptor the iterator visited. */
struct task_socket_record {
    unsigned int pid;
    int fd;
    unsigned long long inode;
};

#define TASK_SOCKETS_SUMMARY_FD (-1)

_Static_assert(sizeof(struct task_socket_record) == 16, "record layout is shared with BPF");

/* The in-kernel inode filter. TASK_SOCKETS_FILTER_MAP is an array of one struct
 * task_sockets_filter; while its `on` is 0 (as loaded) every socket file is written. User space
 * may instead put at most TASK_SOCKETS_WANTED_MAX inodes into TASK_SOCKETS_WANTED_MAP, a hash map
 * (key: the inode as unsigned long long, value: one byte, not read), set their bits and `on`;
 * then only those sockets are written. The bitmap answers "not wanted" for nearly every socket
 * with one load, before the hash lookup that makes the answer exact. The summary is written
 * either way. */
#define TASK_SOCKETS_WANTED_MAX 4096
#define TASK_SOCKETS_WANTED_MAP "wanted_inodes"
#define TASK_SOCKETS_FILTER_MAP "inode_filter"
#define TASK_SOCKETS_FILTER_WORDS 4096   /* 262,144 bits, 32 KiB */

struct task_sockets_filter {
    unsigned int on;
    unsigned int unused;
    /* bit (inode % 64) of word (inode / 64 % TASK_SOCKETS_FILTER_WORDS) for each wanted inode */
    unsigned long long bits[TASK_SOCKETS_FILTER_WORDS];
};

static inline unsigned int task_sockets_filter_word(unsigned long long inode)
{
    return (unsigned int)(inode / 64 % TASK_SOCKETS_FILTER_WORDS);
}

static inline unsigned long long task_sockets_filter_bit(unsigned long long inode)
{
    return 1ull << (inode % 64);
}

#endif
