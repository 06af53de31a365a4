/** Routes of the plugin nodes of the Redis benchmark (bench/redis/plugin-node.ts). */
export const ROOM_PATH = '/room'
/** Plain route whose every message is broadcast to {@link BROADCAST_ROOM}. */
export const PUBLISH_PATH = '/publish'
/** Reliable route of the resume-latency measurement. */
export const RESUME_PATH = '/resume'
/** The room every broadcast member joins (plugin and Socket.IO nodes alike). */
export const BROADCAST_ROOM = 'bench'
