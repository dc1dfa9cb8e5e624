/*
 * reload.h - the triggers of hot reload, for node.c (the reload calls
 * themselves, node_reload*, are in node.h).  Loop thread.
 */
#ifndef LEDGE_NODE_RELOAD_H
#define LEDGE_NODE_RELOAD_H

/* A watched code file changed (watch.h callback; arg: the node). */
void reload_on_file_changed(void *arg, const char *path);

/* SIGHUP: reopen the resources' files, reload changed code (arg: the
 * node). */
void reload_on_hup(void *arg);

#endif
