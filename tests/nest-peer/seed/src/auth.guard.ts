// src/auth.guard.ts: the seed's.
import { CanActivate, ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';

@Injectable()
export class AuthGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest();
    const token = req.headers['authorization']?.replace('Bearer ', '');
    if (!token || token !== process.env.GATEWAY_TOKEN) {
      throw new UnauthorizedException('Invalid or missing token');
    }
    req.user = { id: 'verified-from-token' };
    return true;
  }
}
