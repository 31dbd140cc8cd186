import 'express-session';

declare module 'express-session' {
  interface SessionData {
    csrf?: string;
    /** The signed-in user: their email (the store is asked for the rest on each use). */
    user?: { email: string; authTime: number };
    /** Service providers this session signed in to, for single logout. */
    sps?: string[];
  }
}
